using System.Text.RegularExpressions;

namespace HeaderFraming.AspNetCore.Tests;

/// <summary>The package's README (shown on its NuGet page) carries the Kestrel sample's Program.cs verbatim, so it compiles.</summary>
public sealed class PackageReadmeTests
{
    [Fact]
    public void EveryCSharpBlockOfThePackageReadmeIsTheKestrelSamplesProgram()
    {
        string root = RepositoryRoot();
        string readme = File.ReadAllText(Path.Combine(root, "src", "HeaderFraming.AspNetCore", "README.md"));
        string[] blocks = Regex.Matches(readme, "```csharp\\n(.*?)```", RegexOptions.Singleline).Select(m => m.Groups[1].Value).ToArray();
        Assert.NotEmpty(blocks);
        string program = Normalize(File.ReadAllText(Path.Combine(root, "samples", "TimeStream.Kestrel", "Program.cs")));
        Assert.All(blocks, block => Assert.Contains(Normalize(block), program, StringComparison.Ordinal));
    }

    private static string Normalize(string code)
        => string.Join("\n", code.Replace("\r", "", StringComparison.Ordinal).Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0));

    private static string RepositoryRoot()
    {
        string? dir = AppContext.BaseDirectory;
        while (dir != null && !File.Exists(Path.Combine(dir, "HeaderFraming.sln")))
        {
            dir = Path.GetDirectoryName(dir);
        }

        return dir ?? throw new InvalidOperationException("HeaderFraming.sln not found above " + AppContext.BaseDirectory);
    }
}
