using System.Net;
using HeaderFraming.Protocols.Tests.Infrastructure;
using HeaderFraming.Testing;

namespace HeaderFraming.Protocols.Tests.Servers;

/// <summary>
/// A mosquitto MQTT broker (3.1.1 and 5) of the test's own on 127.0.0.1 and a free port: anonymous clients, no persistence,
/// its configuration and log in a throwaway directory. As root, mosquitto reads the configuration and then drops to the
/// <c>mosquitto</c> user itself, so its process id stays the broker's.
/// </summary>
/// <example><c>[RequiresProgramFact(MosquittoServer.Program, MosquittoServer.Package)]</c>, then
/// <c>await using var broker = await MosquittoServer.StartAsync();</c></example>
public sealed class MosquittoServer : IAsyncDisposable
{
    /// <summary>The program a test needs (for <c>RequiresProgramFact</c>).</summary>
    public const string Program = "mosquitto";

    /// <summary>The Debian package that installs it.</summary>
    public const string Package = "mosquitto";

    private static readonly TimeSpan s_startTimeout = TimeSpan.FromSeconds(15);
    private readonly ServerDirectory _directory;
    private readonly ServerHost _host;

    private MosquittoServer(ServerDirectory directory, ServerHost host, int port)
    {
        _directory = directory;
        _host = host;
        Port = port;
    }

    public int Port { get; }

    public IPEndPoint EndPoint => new(IPAddress.Loopback, Port);

    /// <summary>The broker's log so far (connections, subscriptions, disconnections), for failure messages.</summary>
    public string Logs() => _host.Logs();

    public static async Task<MosquittoServer> StartAsync()
    {
        ServerDirectory directory = await ServerDirectory.CreateAsync("mosquitto");
        try
        {
            return await ServerHost.RetryWhileThePortRacesAsync(Program, async () =>
            {
                int port = Loopback.FreePort();
                string config = directory.File("mosquitto.conf");
                await File.WriteAllTextAsync(config, $"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest stdout\nlog_type all\n");
                ServerHost host = ServerHost.Start(Program, Program, ["-c", config], directory.File("mosquitto.log"));
                try
                {
                    await host.WaitUntilListeningAsync(new IPEndPoint(IPAddress.Loopback, port), s_startTimeout);
                    return new MosquittoServer(directory, host, port);
                }
                catch
                {
                    await host.DisposeAsync();
                    throw;
                }
            });
        }
        catch
        {
            directory.Dispose();
            throw;
        }
    }

    /// <summary>Stops the broker (SIGTERM to its pid) and removes its directory.</summary>
    public async ValueTask DisposeAsync()
    {
        await _host.DisposeAsync();
        _directory.Dispose();
    }
}
