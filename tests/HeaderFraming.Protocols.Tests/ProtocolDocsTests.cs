using System.Text.RegularExpressions;

namespace HeaderFraming.Protocols.Tests;

/// <summary>
/// Every C# block of docs/protocols.md is compiled: it must appear, verbatim up to indentation and blank lines (as the
/// README's blocks in HeaderFraming.Tests' <c>ReadmeTests</c>), in a C# source of this project, where the tests run it
/// against the real peer. Each protocol's section pastes the test helpers that speak it.
/// </summary>
public class ProtocolDocsTests
{
    [Fact]
    public void EveryCSharpBlockOfTheProtocolsDocIsInASourceOfThisProject()
    {
        string root = RepositoryRoot();
        string doc = File.ReadAllText(Path.Combine(root, "docs", "protocols.md"));
        string[] blocks = Regex.Matches(doc, "```csharp\\n(.*?)```", RegexOptions.Singleline).Select(m => m.Groups[1].Value).ToArray();
        Assert.NotEmpty(blocks);

        string project = Path.Combine(root, "tests", "HeaderFraming.Protocols.Tests");
        string[] sources = Directory.EnumerateFiles(project, "*.cs", SearchOption.AllDirectories)
            .Where(path => !IsBuildOutput(Path.GetRelativePath(project, path)))
            .ToArray();
        Assert.Contains(sources, path => path.EndsWith(nameof(ProtocolDocsTests) + ".cs", StringComparison.Ordinal));
        string compiled = Normalize(string.Join("\n", sources.Select(File.ReadAllText)));
        foreach (string block in blocks)
        {
            Assert.True(compiled.Contains(Normalize(block), StringComparison.Ordinal),
                "This block of docs/protocols.md is not in a C# source of tests/HeaderFraming.Protocols.Tests:\n" + block);
        }
    }

    [Fact]
    public void TheReadmeLinksToTheProtocolsDoc()
    {
        string readme = File.ReadAllText(Path.Combine(RepositoryRoot(), "README.md"));
        Assert.Contains("](docs/protocols.md)", readme, StringComparison.Ordinal);
    }

    private static bool IsBuildOutput(string relativePath)
    {
        string first = relativePath.Split(Path.DirectorySeparatorChar)[0];
        return first is "bin" or "obj";
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
