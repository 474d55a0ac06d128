namespace HeaderFraming.Protocols.Tests.Infrastructure;

/// <summary>A server's throwaway directory, <c>/tmp/hf-NAME.XXXXXX</c> (0700, as <c>mktemp -d</c> makes it), owned by the
/// server's OS user when the tests run as root; removed with everything in it on <see cref="Dispose"/>.</summary>
public sealed class ServerDirectory : IDisposable
{
    private ServerDirectory(string path) => Path = path;

    public string Path { get; }

    /// <summary>Creates the directory; when running as root and <paramref name="owner"/> is given, chowns it to that user
    /// (and its group of the same name), so a server that drops to it can write there.</summary>
    public static async Task<ServerDirectory> CreateAsync(string name, string? owner = null)
    {
        // mktemp, not Directory.CreateTempSubdirectory: that honours TMPDIR, which may be a directory the server's user cannot
        // enter, or long enough to push a Unix socket path past its 108 bytes.
        var directory = new ServerDirectory((await ServerHost.RunAsync("mktemp", ["-d", $"/tmp/hf-{name}.XXXXXX"], TimeSpan.FromSeconds(10))).Trim());
        try
        {
            await directory.ChownAsync(owner);
            return directory;
        }
        catch
        {
            directory.Dispose();
            throw;
        }
    }

    /// <summary>A path inside the directory.</summary>
    public string File(string name) => System.IO.Path.Combine(Path, name);

    /// <summary>Gives the directory (recursively) to <paramref name="owner"/> when running as root.</summary>
    public Task ChownAsync(string? owner)
        => owner != null && ServerHost.IsRoot
            ? ServerHost.RunAsync("chown", ["-R", $"{owner}:{owner}", Path], TimeSpan.FromSeconds(10))
            : Task.CompletedTask;

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }
}
