using System.Net;

namespace HeaderFraming.Protocols.Tests.Infrastructure;

/// <summary>
/// What every real server of these tests is: one process (<see cref="Host"/>) listening on 127.0.0.1 and a free
/// <see cref="Port"/>, its files in a throwaway <see cref="Directory"/>; disposing stops the process by its pid and removes
/// the directory. <see cref="StartInDirectoryAsync"/> makes the directory and removes it again when the start fails.
/// </summary>
public abstract class OwnServer : IAsyncDisposable
{
    protected OwnServer(ServerDirectory directory, ServerHost host, int port)
    {
        Directory = directory;
        Host = host;
        Port = port;
    }

    /// <summary>The port clients connect to.</summary>
    public int Port { get; }

    /// <summary>127.0.0.1 and <see cref="Port"/>.</summary>
    public IPEndPoint EndPoint => new(IPAddress.Loopback, Port);

    protected ServerDirectory Directory { get; }

    protected ServerHost Host { get; }

    /// <summary>What the server printed so far, for failure messages.</summary>
    public virtual string Logs() => Host.Logs();

    /// <summary>Stops the server (SIGTERM to its pid, see <see cref="ServerHost.DisposeAsync"/>) and removes its directory.</summary>
    public virtual async ValueTask DisposeAsync()
    {
        await Host.DisposeAsync();
        Directory.Dispose();
    }

    /// <summary>Creates the throwaway directory <c>/tmp/hf-NAME.XXXXXX</c> (owned by <paramref name="owner"/> when root) and
    /// runs <paramref name="start"/> in it; if the start throws, the directory is removed before the exception goes on.</summary>
    protected static async Task<T> StartInDirectoryAsync<T>(string name, string? owner, Func<ServerDirectory, Task<T>> start)
    {
        ServerDirectory directory = await ServerDirectory.CreateAsync(name, owner);
        try
        {
            return await start(directory);
        }
        catch
        {
            directory.Dispose();
            throw;
        }
    }
}
