using System.Globalization;
using System.Net;
using HeaderFraming.Protocols.Tests.Infrastructure;
using HeaderFraming.Testing;

namespace HeaderFraming.Protocols.Tests.Servers;

/// <summary>
/// A MariaDB server of the test's own: a data directory made by <c>mariadb-install-db</c> in a throwaway directory, then
/// <c>mariadbd</c> on 127.0.0.1 and a free port, with small InnoDB settings (26 MB on disk, 91 MB RSS), a
/// <c>max_allowed_packet</c> of 64 MiB (so a row over 16 MiB, and with it continuation packets, can be sent) and a user
/// <see cref="User"/>@127.0.0.1 identified by <see cref="Password"/> (mysql_native_password) with all privileges.
/// </summary>
/// <remarks>
/// <para>Both programs get <c>--no-defaults</c> first, so <c>/etc/mysql/my.cnf</c> never applies. As root they get
/// <c>--user=mysql</c> and switch to it themselves (so the process id is mariadbd's), and the directory is the mysql
/// user's.</para>
/// <para>The user is created by <c>--extra-file</c>, which runs with the grant tables off: its first statement is
/// <c>FLUSH PRIVILEGES</c>, without which <c>CREATE USER</c> fails with error 1290 and the install aborts.</para>
/// <para>For setup a test cannot do over the wire, <see cref="ExecuteSqlAsRootAsync"/> runs SQL as MariaDB's root through
/// the server's Unix socket: OS root logs in as MariaDB's root by unix_socket; when not root, the install makes the
/// current OS user an account with all privileges by unix_socket (<c>--auth-root-socket-user</c>).</para>
/// </remarks>
public sealed class MariaDbServer : OwnServer
{
    /// <summary>The program a test needs (for <c>RequiresProgramFact</c>).</summary>
    public const string Program = "mariadbd";

    /// <summary>The Debian package that installs it.</summary>
    public const string Package = "mariadb-server";

    /// <summary>The test user, allowed from 127.0.0.1 only.</summary>
    public const string User = "test";

    /// <summary>The test user's password (mysql_native_password).</summary>
    public const string Password = "test";

    /// <summary>The server's <c>max_allowed_packet</c>: 64 MiB, over the 16 MiB of a packet's 3-byte length.</summary>
    public const int MaxAllowedPacket = 64 * 1024 * 1024;

    private const string OsUser = "mysql";
    private static readonly TimeSpan s_installTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan s_startTimeout = TimeSpan.FromSeconds(30);
    private static readonly string[] s_small = ["--innodb-log-file-size=8M", "--innodb-buffer-pool-size=32M"];

    private MariaDbServer(ServerDirectory directory, ServerHost host, int port)
        : base(directory, host, port)
    {
    }

    /// <summary>The server's Unix socket (root's way in, see <see cref="ExecuteSqlAsRootAsync"/>).</summary>
    public string SocketPath => Directory.File("mysqld.sock");

    /// <summary>The data directory (inside the throwaway directory).</summary>
    public string DataDirectory => Directory.File("data");

    /// <summary>Installs a data directory and starts the server on it. Its <see cref="OwnServer.Logs"/> are the server's
    /// output and its error log; disposing it stops it (SIGTERM to mariadbd's pid: a clean shutdown in about 0.1 s) and
    /// removes its directory.</summary>
    public static Task<MariaDbServer> StartAsync()
        => StartInDirectoryAsync("mariadb", OsUser, async directory =>
        {
            string init = directory.File("init.sql");
            await File.WriteAllTextAsync(init, $"""
                FLUSH PRIVILEGES;
                CREATE USER '{User}'@'127.0.0.1' IDENTIFIED BY '{Password}';
                GRANT ALL ON *.* TO '{User}'@'127.0.0.1';

                """);
            string[] asUser = ServerHost.IsRoot ? [$"--user={OsUser}"] : [];

            // Not root (a developer's machine), the install's two unix_socket accounts would both be root@localhost, which
            // only OS root can use: the second one is the current user instead, so ExecuteSqlAsRootAsync works there too.
            string[] socketUser = ServerHost.IsRoot ? [] : [$"--auth-root-socket-user={Environment.UserName}"];
            try
            {
                await ServerHost.RunAsync(
                    "mariadb-install-db",
                    ["--no-defaults", .. s_small, $"--datadir={directory.File("data")}", .. asUser, "--skip-test-db", "--skip-name-resolve",
                     .. socketUser, $"--extra-file={init}"],
                    s_installTimeout);
            }
            catch (InvalidOperationException e)
            {
                throw new ServerStartException($"mariadb-install-db failed: {e.Message}", exitedEarly: false);
            }

            return await ServerHost.RetryWhileThePortRacesAsync(Program, async () =>
            {
                int port = Loopback.FreePort();
                string errorLog = directory.File("error.log");
                ServerHost host = ServerHost.Start(
                    Program,
                    Program,
                    ["--no-defaults", .. s_small, .. asUser, $"--datadir={directory.File("data")}", $"--port={port}", "--bind-address=127.0.0.1",
                     $"--socket={directory.File("mysqld.sock")}", "--skip-networking=0", "--skip-name-resolve", $"--log-error={errorLog}",
                     string.Create(CultureInfo.InvariantCulture, $"--max-allowed-packet={MaxAllowedPacket}")],
                    directory.File("mariadbd.out"),
                    logFiles: errorLog);
                await host.WaitUntilListeningOrStopAsync(new IPEndPoint(IPAddress.Loopback, port), s_startTimeout);
                return new MariaDbServer(directory, host, port);
            });
        });

    /// <summary>Runs <paramref name="sql"/> with all privileges (MariaDB's root, or the current OS user's account when not root)
    /// through <see cref="SocketPath"/> with the <c>mariadb</c> client
    /// (<c>--batch --skip-column-names</c>) and returns what it printed: one line per row, columns separated by tabs.</summary>
    public Task<string> ExecuteSqlAsRootAsync(string sql)
        => ServerHost.RunAsync(
            "mariadb",
            ["--no-defaults", $"--socket={SocketPath}", $"--user={(ServerHost.IsRoot ? "root" : Environment.UserName)}", "--batch",
             "--skip-column-names", "--execute", sql],
            TimeSpan.FromSeconds(30));
}
