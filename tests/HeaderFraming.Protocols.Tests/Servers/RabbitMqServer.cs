using System.Globalization;
using System.Net;
using HeaderFraming.Protocols.Tests.Infrastructure;
using HeaderFraming.Testing;

namespace HeaderFraming.Protocols.Tests.Servers;

/// <summary>
/// A RabbitMQ node of the test's own: an epmd of its own on a free port, then the node (a unique name, its Mnesia
/// database, logs, cookie and empty plugin list in a throwaway directory) with AMQP 0-9-1 on 127.0.0.1 and a free port;
/// <see cref="User"/>/<see cref="Password"/> (the default guest, allowed from loopback) logs in to the vhost <c>/</c>.
/// It takes about 5 s to boot: share one with <see cref="RabbitMqFixture"/>.
/// </summary>
/// <remarks>
/// <para>As root, both processes run as the <c>rabbitmq</c> user through <c>setpriv</c>. The node is started with
/// <c>/usr/lib/rabbitmq/bin/rabbitmq-server</c>, not Debian's <c>/usr/sbin</c> wrapper (which <c>su</c>s and logs to
/// /var/log/rabbitmq); that script passes SIGTERM on to the Erlang VM.</para>
/// <para>The epmd trap: without an epmd on <c>ERL_EPMD_PORT</c>, the VM starts <c>epmd -daemon</c>, whose parent is PID 1,
/// and nothing would stop it. Starting our own, in the foreground, first gives it a known pid, and the VM uses it. It is
/// stopped after the node, by that pid; an epmd on 4369 is never touched.</para>
/// <para>The Erlang distribution listens on 127.0.0.1 and a free port too (<c>RABBITMQ_DIST_PORT</c>,
/// <c>inet_dist_use_interface</c>).</para>
/// </remarks>
public sealed class RabbitMqServer : OwnServer
{
    /// <summary>The program a test needs (for <c>RequiresProgramFact</c>); the fixture runs the script behind it.</summary>
    public const string Program = "rabbitmq-server";

    /// <summary>The Debian package that installs it.</summary>
    public const string Package = "rabbitmq-server";

    /// <summary>The user the node has out of the box (loopback connections only).</summary>
    public const string User = "guest";

    /// <summary><see cref="User"/>'s password.</summary>
    public const string Password = "guest";

    private const string OsUser = "rabbitmq";
    private const string ServerScript = "/usr/lib/rabbitmq/bin/rabbitmq-server";
    private const string CtlScript = "/usr/lib/rabbitmq/bin/rabbitmqctl";
    private static readonly TimeSpan s_epmdTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan s_bootTimeout = TimeSpan.FromSeconds(90);
    private readonly ServerHost _epmd;
    private readonly Dictionary<string, string?> _environment;

    /// <param name="node">The node's process (<see cref="OwnServer.Host"/>).</param>
    /// <param name="port">The AMQP port (<see cref="OwnServer.Port"/>).</param>
    private RabbitMqServer(ServerDirectory directory, ServerHost epmd, ServerHost node, Dictionary<string, string?> environment, int port, int distributionPort, int epmdPort, string nodeName)
        : base(directory, node, port)
    {
        _epmd = epmd;
        _environment = environment;
        DistributionPort = distributionPort;
        EpmdPort = epmdPort;
        NodeName = nodeName;
    }

    /// <summary>The Erlang distribution port (rabbitmqctl talks to the node there).</summary>
    public int DistributionPort { get; }

    /// <summary>The port of this node's own epmd.</summary>
    public int EpmdPort { get; }

    /// <summary>The node's name, <c>hfPORT@localhost</c>.</summary>
    public string NodeName { get; }

    /// <summary>The end of the node's output and of epmd's, for failure messages.</summary>
    public override string Logs() => Host.Logs() + _epmd.Logs();

    public static Task<RabbitMqServer> StartAsync()
        => StartInDirectoryAsync("rabbitmq", OsUser, directory => ServerHost.RetryWhileThePortRacesAsync(Program, async () =>
            {
                int[] ports = Loopback.FreePorts(3);
                (int port, int distributionPort, int epmdPort) = (ports[0], ports[1], ports[2]);
                string nodeName = string.Create(CultureInfo.InvariantCulture, $"hf{port}@localhost");
                string epmdPortText = epmdPort.ToString(CultureInfo.InvariantCulture);
                var environment = new Dictionary<string, string?>
                {
                    ["HOME"] = directory.Path, // its .erlang.cookie, which rabbitmqctl needs as well
                    ["RABBITMQ_NODENAME"] = nodeName,
                    ["RABBITMQ_NODE_IP_ADDRESS"] = "127.0.0.1",
                    ["RABBITMQ_NODE_PORT"] = port.ToString(CultureInfo.InvariantCulture),
                    ["RABBITMQ_DIST_PORT"] = distributionPort.ToString(CultureInfo.InvariantCulture),
                    ["RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS"] = "-kernel inet_dist_use_interface {127,0,0,1}",
                    ["RABBITMQ_MNESIA_BASE"] = directory.File("mnesia"),
                    ["RABBITMQ_LOG_BASE"] = directory.File("log"),
                    ["RABBITMQ_ENABLED_PLUGINS_FILE"] = directory.File("enabled_plugins"),
                    ["RABBITMQ_CONFIG_FILE"] = directory.File("rabbitmq"),
                    ["ERL_EPMD_PORT"] = epmdPortText,
                    ["ERL_EPMD_ADDRESS"] = "127.0.0.1",
                };

                ServerHost epmd = ServerHost.Start(
                    "epmd", "epmd", ["-port", epmdPortText, "-address", "127.0.0.1"], directory.File("epmd.log"), OsUser, environment, directory.Path);
                ServerHost? node = null;
                try
                {
                    await epmd.WaitUntilListeningAsync(new IPEndPoint(IPAddress.Loopback, epmdPort), s_epmdTimeout);
                    node = ServerHost.Start(
                        Program, ServerScript, [], directory.File("rabbitmq-server.log"), OsUser, environment, directory.Path,
                        logFiles: directory.File($"log/{nodeName}.log"));

                    // The AMQP port opens only once the boot has finished.
                    await node.WaitUntilListeningAsync(new IPEndPoint(IPAddress.Loopback, port), s_bootTimeout);
                    return new RabbitMqServer(directory, epmd, node, environment, port, distributionPort, epmdPort, nodeName);
                }
                catch
                {
                    if (node != null)
                    {
                        await node.DisposeAsync();
                    }

                    await epmd.DisposeAsync();
                    throw;
                }
            }));

    /// <summary>Runs <c>rabbitmqctl -n NODE ARGS</c> against this node (as its OS user, with its cookie) and returns what it
    /// printed; for setup a test cannot do over AMQP (users, vhosts, permissions). Each call starts an Erlang VM (about 1 s).</summary>
    public Task<string> RabbitMqCtlAsync(params string[] arguments)
        => ServerHost.RunAsync(CtlScript, ["-n", NodeName, .. arguments], TimeSpan.FromSeconds(60), OsUser, _environment, Directory.Path);

    /// <summary>Stops the node (SIGTERM to the script, which passes it on: about 1 s), then its epmd, both by their own pids,
    /// and removes the directory.</summary>
    public override async ValueTask DisposeAsync()
    {
        await Host.StopAsync(ServerHost.SigTerm, TimeSpan.FromSeconds(30));
        await Host.DisposeAsync();
        await _epmd.DisposeAsync();
        Directory.Dispose();
    }
}
