using System.Globalization;
using System.Text.RegularExpressions;
using HeaderFraming.AspNetCore.Tests.Infrastructure;
using HeaderFraming.Codecs;
using HeaderFraming.Serialization;
using HeaderFraming.Testing;
using HeaderFraming.Tests.Infrastructure;

namespace HeaderFraming.AspNetCore.Tests;

/// <summary>The two samples, run as a user runs them: the Kestrel time server against the tutorial's Python client, and the
/// worker's reconnects.</summary>
public sealed partial class SampleTests
{
    private static readonly TimeSpan s_limit = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task TheTutorialsPythonClientReadsTheWelcomeAndTheTimesOfTheKestrelTimeServer()
    {
        int port = Loopback.FreePort();
        // 0.5 s apart: the tutorial's client desyncs if a message's last chunk shares a recv(16) with the next message.
        using SampleProcess server = SampleProcess.Start("TimeStream.Kestrel", $"--TimeServer:Port={port}", "--TimeServer:Interval=00:00:00.500");
        await server.WaitForLineAsync(l => l.Contains("Application started", StringComparison.Ordinal), s_limit);

        using PythonPeer client = PythonPeer.Start("tutorial_client.py", port.ToString(CultureInfo.InvariantCulture), "4");
        int clientExit = await client.WaitForExitAsync(s_limit);
        Assert.True(clientExit == 0, $"the Python peer exited with {clientExit}. Output:\n{string.Join("\n", client.Lines)}");

        string[] messages = client.Lines.Where(l => l.StartsWith("MSG ", StringComparison.Ordinal)).Select(l => l[4..]).ToArray();
        Assert.Equal(4, messages.Length);
        Assert.Equal("Welcome to the server!", messages[0]);
        Assert.All(messages[1..], m => Assert.Matches(TimeMessage(), m));
        double[] times = messages[1..].Select(m => double.Parse(m["The time is ".Length..], CultureInfo.InvariantCulture)).ToArray();
        Assert.Equal(times.Order(), times);
        Assert.InRange(times[0], DateTimeOffset.UtcNow.AddMinutes(-5).ToUnixTimeSeconds(), DateTimeOffset.UtcNow.AddMinutes(5).ToUnixTimeSeconds());

        // Byte-exact headers, as Python's repr prints them: the tutorial's f"{len(msg):<10}".
        string[] headers = client.Lines.Where(l => l.StartsWith("HDR ", StringComparison.Ordinal)).ToArray();
        Assert.Equal("HDR b'22        '", headers[0]);
        for (int i = 1; i < 4; i++)
        {
            Assert.Equal($"HDR b'{messages[i].Length,-10}'", headers[i]);
        }

        await server.WaitForLineAsync(l => l.Contains("has been established", StringComparison.Ordinal), s_limit);
        await server.WaitForLineAsync(l => l.Contains("closed:", StringComparison.Ordinal), s_limit);
    }

    [Fact]
    public async Task TheWorkerReconnectsWhenTheServerGoesAwayAndComesBack()
    {
        int port = Loopback.FreePort();
        FramedServer first = await FramedServer.StartAsync<GreetingHandler>(AsciiDecimalCodec.Default, s => s.Port = port);
        using SampleProcess worker = SampleProcess.Start("FramedClient.Worker",
            $"--TimeClient:Port={port}", "--TimeClient:InitialReconnectDelay=00:00:00.100", "--TimeClient:MaxReconnectDelay=00:00:00.400");
        try
        {
            await worker.WaitForLineAsync(l => l.Contains($"Connected to 127.0.0.1:{port} (connection 1)", StringComparison.Ordinal), s_limit);
            await worker.WaitForLineAsync(l => l.Contains("Received: Welcome to the server!", StringComparison.Ordinal), s_limit);
        }
        finally
        {
            await first.DisposeAsync(); // the server goes away: the worker's connection is closed, later connects are refused
        }

        await worker.WaitForLineAsync(l => l.Contains("Disconnected:", StringComparison.Ordinal), s_limit);
        await worker.WaitForLineAsync(l => l.Contains("Reconnecting in", StringComparison.Ordinal), s_limit);
        await worker.WaitForLineAsync(l => l.Contains("Could not stay connected", StringComparison.Ordinal), s_limit);

        await using FramedServer second = await FramedServer.StartAsync<GreetingHandler>(AsciiDecimalCodec.Default, s => s.Port = port);
        await worker.WaitForLineAsync(l => l.Contains($"Connected to 127.0.0.1:{port} (connection 2)", StringComparison.Ordinal), s_limit);
        await worker.WaitForLineAsync(l => l.Contains("Received: Welcome to the server!", StringComparison.Ordinal), s_limit, occurrence: 2);
    }

    [GeneratedRegex(@"^The time is \d+\.\d+$")]
    private static partial Regex TimeMessage();

    /// <summary>The time server's greeting, and nothing else.</summary>
    public sealed class GreetingHandler : FramedConnectionHandler
    {
        protected override ValueTask OnConnectedAsync(FramedConnectionContext context)
            => context.SendAsync("Welcome to the server!", Utf8TextSerializer.Instance);

        protected override ValueTask OnFrameAsync(FramedConnectionContext context, Frame frame) => default;
    }
}
