using System.Text.RegularExpressions;

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
        string readme = File.ReadAllText(Path.Combine(root, "README.md"));
        string[] blocks = Regex.Matches(readme, "```csharp\\n(.*?)```", RegexOptions.Singleline).Select(m => m.Groups[1].Value).ToArray();
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
