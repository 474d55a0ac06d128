using System.Net;
using HeaderFraming.Protocols.Tests.Infrastructure;
using HeaderFraming.Testing;
using HeaderFraming.Tests.Infrastructure;

namespace HeaderFraming.Protocols.Tests;

/// <summary>The server fixtures' shared host, with <c>sh</c> standing in for a server: a start that fails says why, a stop
/// reaches the server's own pid, and a retry takes new ports only when the server exited early. Skipped where there is
/// no <c>sh</c> (the fixtures need it too).</summary>
public class ServerHostTests
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(10);

    [RequiresProgramFact("sh", "dash")]
    public async Task AServerThatExitsBeforeListeningFailsAtOnceWithWhatItPrinted()
    {
        using ServerDirectory directory = await ServerDirectory.CreateAsync("host-test");
        await using ServerHost host = ServerHost.Start("fake", "sh", ["-c", "echo 'bind: Address in use' >&2; exit 3"], directory.File("out.log"));

        ServerStartException failure = await Assert.ThrowsAsync<ServerStartException>(
            () => host.WaitUntilListeningAsync(new IPEndPoint(IPAddress.Loopback, Loopback.FreePort()), s_timeout));
        Assert.True(failure.ExitedEarly);
        Assert.Contains("exited with 3 before listening", failure.Message, StringComparison.Ordinal);
        Assert.Contains("bind: Address in use", failure.Message, StringComparison.Ordinal);
    }

    [RequiresProgramFact("sh", "dash")]
    public async Task AServerThatNeverListensTimesOutWithoutARetry()
    {
        using ServerDirectory directory = await ServerDirectory.CreateAsync("host-test");
        int starts = 0;
        ServerStartException failure = await Assert.ThrowsAsync<ServerStartException>(() => ServerHost.RetryWhileThePortRacesAsync<int>("fake", async () =>
        {
            starts++;
            await using ServerHost host = ServerHost.Start("fake", "sleep", ["30"], directory.File("out.log"));
            await host.WaitUntilListeningAsync(new IPEndPoint(IPAddress.Loopback, Loopback.FreePort()), TimeSpan.FromMilliseconds(200));
            return 0;
        }));
        Assert.False(failure.ExitedEarly);
        Assert.Equal(1, starts);
    }

    [RequiresProgramFact("sh", "dash")]
    public async Task AServerThatKeepsExitingEarlyIsTriedThreeTimesAndTheMessageHasEveryAttempt()
    {
        using ServerDirectory directory = await ServerDirectory.CreateAsync("host-test");
        int starts = 0;
        ServerStartException failure = await Assert.ThrowsAsync<ServerStartException>(() => ServerHost.RetryWhileThePortRacesAsync<int>("fake", async () =>
        {
            starts++;
            await using ServerHost host = ServerHost.Start("fake", "sh", ["-c", "exit 1"], directory.File("out.log"));
            await host.WaitUntilListeningAsync(new IPEndPoint(IPAddress.Loopback, Loopback.FreePort()), s_timeout);
            return 0;
        }));
        Assert.Equal(3, starts);
        Assert.Contains("fake did not start in 3 attempts", failure.Message, StringComparison.Ordinal);
        Assert.Contains("[attempt 1]", failure.Message, StringComparison.Ordinal);
    }

    [RequiresProgramFact("sh", "dash")]
    public async Task StopSignalsTheServersOwnPidAndWaitsForItsExit()
    {
        using ServerDirectory directory = await ServerDirectory.CreateAsync("host-test");
        await using ServerHost host = ServerHost.Start("fake", "sh", ["-c", "trap 'echo got TERM; exit 7' TERM; echo trapped; while :; do sleep 0.05; done"], directory.File("out.log"));
        await UntilLoggedAsync(host, "trapped");

        Assert.Equal(7, await host.StopAsync(ServerHost.SigTerm, s_timeout));
        Assert.Contains("got TERM", await File.ReadAllTextAsync(host.LogFile), StringComparison.Ordinal);
    }

    [RequiresProgramFact("sh", "dash")]
    public async Task AServerThatIgnoresTheSignalIsKilledAfterTheGrace()
    {
        using ServerDirectory directory = await ServerDirectory.CreateAsync("host-test");
        await using ServerHost host = ServerHost.Start("fake", "sh", ["-c", "trap '' TERM; echo trapped; while :; do sleep 0.05; done"], directory.File("out.log"));
        await UntilLoggedAsync(host, "trapped");

        Assert.Equal(128 + ServerHost.SigKill, await host.StopAsync(ServerHost.SigTerm, TimeSpan.FromMilliseconds(300)));
        Assert.True(host.HasExited);
    }

    [RequiresProgramFact("sh", "dash")]
    public async Task AServerDirectoryIsPrivateAndRemovedWithItsFiles()
    {
        ServerDirectory directory = await ServerDirectory.CreateAsync("host-test");
        await File.WriteAllTextAsync(directory.File("a"), "x");
        Assert.Matches(@"^/tmp/hf-host-test\.[A-Za-z0-9]{6}$", directory.Path);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(directory.Path));
        }

        directory.Dispose();
        Assert.False(Directory.Exists(directory.Path));
    }

    /// <summary>Waits until the server's log holds <paramref name="line"/>: the script has set its trap (a signal sent
    /// before that would end the shell with the default action, not the one under test).</summary>
    private static Task UntilLoggedAsync(ServerHost host, string line)
        => Poll.UntilAsync(
            () => File.Exists(host.LogFile) && File.ReadAllText(host.LogFile).Contains(line, StringComparison.Ordinal),
            s_timeout,
            () => $"the script printed \"{line}\"");
}
