using HeaderFraming.Fuzz;

namespace HeaderFraming.Tests;

/// <summary>
/// Replays every fuzz seed and every fuzz finding (fuzz/regressions/TARGET/, one file per crash or hang AFL++ found) through
/// the fuzz targets' own checks: a finding, once fixed, stays fixed.
/// </summary>
public class FuzzRegressionTests
{
    public static TheoryData<string, string> Inputs()
    {
        string fuzz = Path.Combine(RepositoryRoot(), "fuzz");
        var data = new TheoryData<string, string>();
        foreach (string target in new[] { "codecs", "reader" })
        {
            foreach (string folder in new[] { "seeds", "regressions" })
            {
                string directory = Path.Combine(fuzz, folder, target);
                foreach (string file in Directory.GetFiles(directory).Where(f => !f.EndsWith(".gitkeep", StringComparison.Ordinal)).Order(StringComparer.Ordinal))
                {
                    data.Add(target, Path.GetRelativePath(fuzz, file));
                }
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Inputs))]
    public void FuzzInputReplaysWithoutAFinding(string target, string file)
    {
        byte[] input = File.ReadAllBytes(Path.Combine(RepositoryRoot(), "fuzz", file));
        Action<byte[]> run = target == "codecs" ? CodecTarget.Run : ReaderTarget.Run;
        run(input);
    }

    private static string RepositoryRoot()
    {
        string? directory = AppContext.BaseDirectory;
        while (directory != null && !File.Exists(Path.Combine(directory, "HeaderFraming.sln")))
        {
            directory = Path.GetDirectoryName(directory);
        }

        return directory ?? throw new InvalidOperationException("HeaderFraming.sln not found above " + AppContext.BaseDirectory);
    }
}
