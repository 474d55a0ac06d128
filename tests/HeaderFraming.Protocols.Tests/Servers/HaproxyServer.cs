using System.Globalization;
using System.Net;
using HeaderFraming.Protocols.Tests.Infrastructure;
using HeaderFraming.Testing;

namespace HeaderFraming.Protocols.Tests.Servers;

/// <summary>
/// An haproxy of the test's own in TCP mode: a frontend on 127.0.0.1 and a free port forwards each connection to the
/// test's backend, prefixed with a PROXY protocol v2 header (<c>send-proxy-v2</c>). Runs in the foreground (<c>-db</c>), so
/// its process id is the test's child; stopped with SIGTERM.
/// </summary>
/// <remarks>
/// <para>Readiness without a spurious connection: a TCP probe of the frontend would be forwarded, and the backend would
/// receive a PROXY header and then EOF. The configuration therefore has a second frontend, <c>ready</c>, that rejects every
/// connection it gets and forwards nothing; it is bound after the forwarding one (haproxy binds every listener, in
/// configuration order, before it serves any), so when it accepts a probe the forwarding frontend listens too. The test's
/// backend sees only the test's own connections, and may be listening before haproxy starts.</para>
/// <para>There is no <c>check</c> on the server line either: no health check ever connects to the backend.</para>
/// </remarks>
public sealed class HaproxyServer : OwnServer
{
    /// <summary>The program a test needs (for <c>RequiresProgramFact</c>).</summary>
    public const string Program = "haproxy";

    /// <summary>The Debian package that installs it.</summary>
    public const string Package = "haproxy";

    private static readonly TimeSpan s_startTimeout = TimeSpan.FromSeconds(15);

    /// <param name="port">The forwarding frontend's port (<see cref="OwnServer.Port"/>): clients connect here.</param>
    private HaproxyServer(ServerDirectory directory, ServerHost host, int port, int readinessPort, IPEndPoint backend)
        : base(directory, host, port)
    {
        ReadinessPort = readinessPort;
        BackendEndPoint = backend;
    }

    /// <summary>The port of the frontend that only rejects (the readiness probe's).</summary>
    public int ReadinessPort { get; }

    /// <summary>Where haproxy forwards to.</summary>
    public IPEndPoint BackendEndPoint { get; }

    /// <summary>Starts haproxy forwarding to <paramref name="backendPort"/> on 127.0.0.1, which need not listen yet. Its
    /// <see cref="OwnServer.Logs"/> are what haproxy printed (warnings, alerts); disposing it stops it (SIGTERM to its pid:
    /// at once, open connections closed) and removes its directory.</summary>
    public static Task<HaproxyServer> StartAsync(int backendPort)
        => StartInDirectoryAsync("haproxy", owner: null, directory => ServerHost.RetryWhileThePortRacesAsync(Program, async () =>
            {
                int[] ports = Loopback.FreePorts(2, backendPort);
                (int port, int readinessPort) = (ports[0], ports[1]);
                string config = directory.File("haproxy.cfg");
                await File.WriteAllTextAsync(config, string.Create(CultureInfo.InvariantCulture, $"""
                    defaults
                      mode tcp
                      timeout connect 5s
                      timeout client 30s
                      timeout server 30s
                    frontend fe
                      bind 127.0.0.1:{port}
                      default_backend be
                    frontend ready
                      bind 127.0.0.1:{readinessPort}
                      tcp-request connection reject
                    backend be
                      server s1 127.0.0.1:{backendPort} send-proxy-v2

                    """));
                ServerHost host = ServerHost.Start(Program, Program, ["-f", config, "-db"], directory.File("haproxy.log"));
                await host.WaitUntilListeningOrStopAsync(new IPEndPoint(IPAddress.Loopback, readinessPort), s_startTimeout);
                return new HaproxyServer(directory, host, port, readinessPort, new IPEndPoint(IPAddress.Loopback, backendPort));
            }));
}
