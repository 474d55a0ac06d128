using System.Net;
using System.Text.RegularExpressions;
using HeaderFraming.Testing;
using HeaderFraming.Tests.Infrastructure;
using TimeStream;

namespace HeaderFraming.Tests;

/// <summary>Not run in parallel with other classes: the tutorial's client cannot split two messages that share a recv(16),
/// which happens when the machine leaves it unscheduled for a whole interval between two of its recvs.</summary>
[CollectionDefinition(nameof(PythonInteropTests), DisableParallelization = true)]
public sealed class PythonInteropCollection
{
}

/// <summary>The seed tutorial's Python server and client, followed literally, against HeaderFraming in both directions.</summary>
[Collection(nameof(PythonInteropTests))]
public class PythonInteropTests
{
    private static readonly Regex s_timeMessage = new(@"^The time is \d+\.\d+$");

    [Fact]
    public async Task OurClientReadsEveryMessageOfThePythonTutorialServer()
    {
        using PythonPeer server = PythonPeer.Start("tutorial_server.py", "0.2", "3");
        string portLine = await server.WaitForLineAsync(l => l.StartsWith("PORT ", StringComparison.Ordinal), TimeSpan.FromSeconds(20));
        int port = int.Parse(portLine[5..], System.Globalization.CultureInfo.InvariantCulture);

        var output = new StringWriter();
        int received = await TimeStreamClient.RunAsync("127.0.0.1", port, count: null, output).WaitAsync(TimeSpan.FromSeconds(30));

        string[] lines = output.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(4, received);
        Assert.Equal("Welcome to the server!", lines[0]);
        Assert.All(lines[1..], l => Assert.Matches(s_timeMessage, l));

        // What the Python server printed it sent (header included) is exactly what we decoded.
        string[] sent = server.Lines.Where(l => l.Contains("The time is", StringComparison.Ordinal)).ToArray();
        Assert.Equal(lines[1..].Select(l => $"{l.Length,-10}{l}"), sent);
        int serverExit = await server.WaitForExitAsync(TimeSpan.FromSeconds(10));
        Assert.True(serverExit == 0, $"the Python peer exited with {serverExit}. Output:\n{string.Join("\n", server.Lines)}");
    }

    [Fact]
    public async Task ThePythonTutorialClientReadsEveryMessageOfOurServer()
    {
        // The tutorial's client desyncs if a message's last chunk shares a recv(16) with the next message, so they go 1 s
        // apart: a client descheduled that long between two recvs is rarer on a loaded machine than one of 0.5 s (a CI
        // run saw the client print the welcome and nothing in 30 s, as a desync on the first time message would).
        var serverLog = new StringWriter();
        await using TimeStreamServer server = TimeStreamServer.Start(IPAddress.Loopback, 0, TimeSpan.FromSeconds(1), serverLog);
        using PythonPeer client = PythonPeer.Start("tutorial_client.py", server.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "4");
        int clientExit;
        try
        {
            clientExit = await client.WaitForExitAsync(TimeSpan.FromSeconds(30));
        }
        catch (TimeoutException ex)
        {
            // What the server sent says which side stopped: a server that went on broadcasting means the client desynced.
            throw new TimeoutException($"{ex.Message}\nThe server sent {server.MessagesSent} messages; its log (read while it may still write):\n{serverLog}", ex);
        }

        Assert.True(clientExit == 0, $"the Python peer exited with {clientExit}. Output:\n{string.Join("\n", client.Lines)}");

        string[] messages = client.Lines.Where(l => l.StartsWith("MSG ", StringComparison.Ordinal)).Select(l => l[4..]).ToArray();
        string[] headers = client.Lines.Where(l => l.StartsWith("HDR ", StringComparison.Ordinal)).Select(l => l[4..]).ToArray();
        Assert.Equal(4, messages.Length);
        Assert.Equal("Welcome to the server!", messages[0]);
        Assert.All(messages[1..], m => Assert.Matches(s_timeMessage, m));

        // Byte-exact header: Python's repr of the 10 header bytes, e.g. b'22        '.
        Assert.Equal(messages.Select(m => $"b'{m.Length,-10}'"), headers);
    }

    [Fact]
    public void TheTutorialLoopCannotSplitBackToBackMessagesButHeaderFramingCan()
    {
        string[] messages = ["Welcome to the server!", TimeStreamServer.TimeMessage(DateTimeOffset.FromUnixTimeMilliseconds(1552068299017)), "x"];
        byte[] wire = messages.SelectMany(m => FrameTestKit.PythonHeader(m.Length).Concat(System.Text.Encoding.UTF8.GetBytes(m))).ToArray();

        (List<string> tutorial, bool desynced) = TutorialClient.Reassemble(wire);
        Assert.True(desynced);
        Assert.True(tutorial.Count < messages.Length);

        List<byte[]> frames = FrameTestKit.DecodeAll(SegmentedSequence.Split(wire, Enumerable.Range(1, wire.Length / 16).Select(i => i * 16)), Codecs.AsciiDecimalCodec.Default);
        Assert.Equal(messages, frames.Select(f => System.Text.Encoding.UTF8.GetString(f)));
    }

    [Fact]
    public void TimeMessagesLookLikePythonTimeTime()
    {
        Assert.Equal("The time is 1552068299.017", TimeStreamServer.TimeMessage(DateTimeOffset.FromUnixTimeMilliseconds(1552068299017)));
        Assert.Equal("The time is 1552068299.0", TimeStreamServer.TimeMessage(DateTimeOffset.FromUnixTimeSeconds(1552068299)));
    }
}
