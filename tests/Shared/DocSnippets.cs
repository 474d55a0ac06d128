using System;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;

namespace HeaderFraming.Testing;

/// <summary>
/// The checks that keep documentation code compiled: the repository's root, the C# blocks of a markdown file, and the
/// normalisation (lines trimmed, blank lines dropped) under which a block must appear in a compiled source. One copy for
/// the README's, the protocols doc's and the AspNetCore package README's tests.
/// </summary>
public static class DocSnippets
{
    /// <summary>The folder holding HeaderFraming.sln, found upwards from the test's output directory.</summary>
    public static string RepositoryRoot()
    {
        string? dir = AppContext.BaseDirectory;
        while (dir != null && !File.Exists(Path.Combine(dir, "HeaderFraming.sln")))
        {
            dir = Path.GetDirectoryName(dir);
        }

        return dir ?? throw new InvalidOperationException("HeaderFraming.sln not found above " + AppContext.BaseDirectory);
    }

    /// <summary>The bodies of the ```csharp blocks of a markdown file, given relative to the repository's root.</summary>
    public static string[] CSharpBlocks(string markdownPath)
    {
        string markdown = File.ReadAllText(Path.Combine(RepositoryRoot(), markdownPath));
        return Regex.Matches(markdown, "```csharp\\n(.*?)```", RegexOptions.Singleline).Cast<Match>().Select(m => m.Groups[1].Value).ToArray();
    }

    /// <summary>Code with every line trimmed and blank lines dropped: a block matches a source whatever its indentation.</summary>
    public static string Normalize(string code)
        => string.Join("\n", code.Replace("\r", string.Empty).Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0));
}
