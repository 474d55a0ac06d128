using static HeaderFraming.Testing.DocSnippets;

namespace HeaderFraming.Tests;

/// <summary>Every C# block of the README is compiled: it must appear verbatim in a source file that CI builds.</summary>
public class ReadmeTests
{
    private static readonly string[] s_compiledSources =
    [
        "samples/PackageConsumer/Program.cs",
        // The "Hosting in ASP.NET Core" section: the Kestrel sample's Program.cs is its complete example, and the TLS
        // example is in the consumer of the HeaderFraming.AspNetCore package.
        "samples/TimeStream.Kestrel/Program.cs",
        "samples/AspNetCoreConsumer/Program.cs",
    ];

    [Fact]
    public void EveryCSharpBlockOfTheReadmeIsInACompiledSource()
    {
        string root = RepositoryRoot();
        string[] blocks = CSharpBlocks("README.md");
        Assert.NotEmpty(blocks);
        string compiled = Normalize(string.Join("\n", s_compiledSources.Select(p => File.ReadAllText(Path.Combine(root, p)))));
        foreach (string block in blocks)
        {
            Assert.True(compiled.Contains(Normalize(block), StringComparison.Ordinal), "This README block is not in a compiled source:\n" + block);
        }
    }

    [Fact]
    public void TheReadmeStartsWithTheDemoAndTheTestCommand()
    {
        string[] lines = File.ReadAllLines(Path.Combine(RepositoryRoot(), "README.md"));
        Assert.StartsWith("dotnet run --project samples/TimeStream", lines[3], StringComparison.Ordinal);
        Assert.StartsWith("dotnet test HeaderFraming.sln", lines[4], StringComparison.Ordinal);
    }


}
