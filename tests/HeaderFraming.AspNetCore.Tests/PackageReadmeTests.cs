using static HeaderFraming.Testing.DocSnippets;

namespace HeaderFraming.AspNetCore.Tests;

/// <summary>The package's README (shown on its NuGet page) carries the Kestrel sample's Program.cs verbatim, so it compiles.</summary>
public sealed class PackageReadmeTests
{
    [Fact]
    public void EveryCSharpBlockOfThePackageReadmeIsTheKestrelSamplesProgram()
    {
        string root = RepositoryRoot();
        string[] blocks = CSharpBlocks(Path.Combine("src", "HeaderFraming.AspNetCore", "README.md"));
        Assert.NotEmpty(blocks);
        string program = Normalize(File.ReadAllText(Path.Combine(root, "samples", "TimeStream.Kestrel", "Program.cs")));
        Assert.All(blocks, block => Assert.Contains(Normalize(block), program, StringComparison.Ordinal));
    }


}
