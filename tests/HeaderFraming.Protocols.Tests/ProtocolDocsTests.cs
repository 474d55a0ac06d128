using static HeaderFraming.Testing.DocSnippets;

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
        string[] blocks = CSharpBlocks(Path.Combine("docs", "protocols.md"));
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


}
