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
public sealed class MosquittoServer : OwnServer
{
    /// <summary>The program a test needs (for <c>RequiresProgramFact</c>).</summary>
    public const string Program = "mosquitto";

    /// <summary>The Debian package that installs it.</summary>
    public const string Package = "mosquitto";

    private static readonly TimeSpan s_startTimeout = TimeSpan.FromSeconds(15);

    private MosquittoServer(ServerDirectory directory, ServerHost host, int port)
        : base(directory, host, port)
    {
    }

    /// <summary>Starts a broker; disposing it stops it (SIGTERM to its pid) and removes its directory. Its
    /// <see cref="OwnServer.Logs"/> are the broker's log (connections, subscriptions, disconnections).</summary>
    public static Task<MosquittoServer> StartAsync()
        => StartInDirectoryAsync("mosquitto", owner: null, directory => ServerHost.RetryWhileThePortRacesAsync(Program, async () =>
        {
            int port = Loopback.FreePort();
            string config = directory.File("mosquitto.conf");
            await File.WriteAllTextAsync(config, $"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest stdout\nlog_type all\n");
            ServerHost host = ServerHost.Start(Program, Program, ["-c", config], directory.File("mosquitto.log"));
            await host.WaitUntilListeningOrStopAsync(new IPEndPoint(IPAddress.Loopback, port), s_startTimeout);
            return new MosquittoServer(directory, host, port);
        }));
}
