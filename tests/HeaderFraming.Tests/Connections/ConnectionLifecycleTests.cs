using System.Net.Sockets;
using HeaderFraming.Codecs;
using HeaderFraming.Testing;
using HeaderFraming.Tests.Infrastructure;

namespace HeaderFraming.Tests.Connections;

/// <summary><see cref="FramedConnection.Closed"/>, <see cref="FramedConnection.ShutdownReason"/>, the counters, and what
/// happens after <see cref="FramedConnection.DisposeAsync"/>.</summary>
public sealed class ConnectionLifecycleTests
{
    private static readonly TimeSpan s_limit = TimeSpan.FromSeconds(20);

    private static async Task<(FramedConnection Client, FramedConnection Server)> PairAsync(IFrameCodec codec, FramedConnectionOptions? serverOptions = null)
    {
        (Socket client, Socket server) = await Loopback.ConnectedPairAsync();
        return (FramedConnection.Create(client, codec), FramedConnection.Create(server, codec, serverOptions));
    }

    private static async Task<bool> FiresAsync(CancellationToken token)
    {
        var fired = new TaskCompletionSource();
        using (token.Register(() => fired.TrySetResult()))
        {
            return await Task.WhenAny(fired.Task, Task.Delay(s_limit)) == fired.Task;
        }
    }

    [Fact]
    public async Task ASendOnlyServerLearnsFromClosedThatTheClientLeft()
    {
        (FramedConnection client, FramedConnection server) = await PairAsync(AsciiDecimalCodec.Default);
        await using (server)
        {
            // The tutorial's time server: it only sends, and never reads.
            await server.SendAsync(FrameTestKit.Ascii("Welcome to the server!"));
            Assert.Equal(ConnectionShutdownReason.None, server.ShutdownReason);
            Assert.False(server.Closed.IsCancellationRequested);

            await client.DisposeAsync();
            Assert.True(await FiresAsync(server.Closed), "Closed never fired after the client left");
            Assert.Equal(ConnectionShutdownReason.PeerClosed, server.ShutdownReason);
            Assert.Equal(ConnectionShutdownReason.LocalClose, client.ShutdownReason);
        }
    }

    [Fact]
    public async Task CountersCountFramesAndBytesInAndOut()
    {
        (FramedConnection client, FramedConnection server) = await PairAsync(AsciiDecimalCodec.Default);
        await using (client)
        await using (server)
        {
            int[] sizes = [0, 1, 22, 1000, 70_000];
            foreach (int size in sizes)
            {
                await client.SendAsync(new byte[size]);
            }

            await client.CompleteSendingAsync().WaitAsync(s_limit);
            for (int i = 0; i < sizes.Length; i++)
            {
                Assert.True((await server.ReadFrameAsync().AsTask().WaitAsync(s_limit)).HasFrame);
            }

            Assert.True((await server.ReadFrameAsync().AsTask().WaitAsync(s_limit)).IsCompleted);
            long wire = sizes.Sum(s => 10L + s);
            Assert.Equal(sizes.Length, client.FramesSent);
            Assert.Equal(wire, client.BytesSent);
            Assert.Equal(sizes.Length, server.FramesReceived);
            Assert.Equal(wire, server.BytesReceived);
            Assert.Equal(0, server.FramesSent);
            Assert.Equal(0, client.FramesReceived);
        }
    }

    [Fact]
    public async Task AnIdleTimeoutEndsTheConnectionWithTheTimeoutReason()
    {
        var options = new FramedConnectionOptions();
        options.Reader.IdleTimeout = TimeSpan.FromMilliseconds(200);
        (FramedConnection client, FramedConnection server) = await PairAsync(BinaryLengthCodec.UInt32BigEndian, options);
        await using (client)
        await using (server)
        {
            await Assert.ThrowsAsync<FrameTimeoutException>(async () => await server.ReadFrameAsync().AsTask().WaitAsync(s_limit));
            Assert.Equal(ConnectionShutdownReason.Timeout, server.ShutdownReason);
            Assert.True(await FiresAsync(server.Closed));
        }
    }

    [Fact]
    public async Task HttpSentToAFramedEndpointIsAProtocolErrorAndTheConnectionCanStillSend()
    {
        (Socket client, Socket serverSocket) = await Loopback.ConnectedPairAsync();
        using (client)
        {
            await using FramedConnection server = FramedConnection.Create(serverSocket, AsciiDecimalCodec.Default);
            await client.SendAsync(FrameTestKit.Ascii("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
            FrameFormatException error = await Assert.ThrowsAsync<FrameFormatException>(async () => await server.ReadFrameAsync().AsTask().WaitAsync(s_limit));
            Assert.Contains("HTTP", error.Message);
            Assert.Equal(ConnectionShutdownReason.ProtocolError, server.ShutdownReason);
            Assert.True(await FiresAsync(server.Closed));

            // A protocol error ends reading, not sending: the server can still say why before it closes.
            await server.SendAsync(FrameTestKit.Ascii("bad request"));
            await server.CompleteSendingAsync().WaitAsync(s_limit);
            byte[] reply = new byte[64];
            int received = 0;
            for (int n; (n = await client.ReceiveAsync(reply.AsMemory(received)).AsTask().WaitAsync(s_limit)) > 0;)
            {
                received += n;
            }

            Assert.Equal("11        bad request", System.Text.Encoding.ASCII.GetString(reply, 0, received));
        }
    }

    [Fact]
    public async Task ReadsAndSendsAfterDisposeThrowObjectDisposedException()
    {
        (FramedConnection client, FramedConnection server) = await PairAsync(BinaryLengthCodec.UInt32BigEndian);
        await using (client)
        {
            await server.DisposeAsync();
            await server.DisposeAsync();
            Assert.Throws<ObjectDisposedException>(() => server.ReadFrameAsync());
            Assert.Throws<ObjectDisposedException>(() => server.TryReadFrame(out Frame _));
            Assert.Throws<ObjectDisposedException>(() => server.TryReadFrame(out ReadOnlySpan<byte> _, out ReadOnlySpan<byte> _));
            Assert.Throws<ObjectDisposedException>(() => server.SendAsync(new byte[1]));
            await Assert.ThrowsAsync<ObjectDisposedException>(() => server.CompleteSendingAsync());
            Assert.Equal(ConnectionShutdownReason.LocalClose, server.ShutdownReason);
            Assert.True(await FiresAsync(server.Closed));
        }
    }

    [Fact]
    public async Task DisposingEndsAReadThatIsWaitingWithObjectDisposedException()
    {
        (FramedConnection client, FramedConnection server) = await PairAsync(BinaryLengthCodec.UInt32BigEndian);
        await using (client)
        {
            Task<FrameReadResult> waiting = server.ReadFrameAsync().AsTask();
            await Task.Delay(50);
            Assert.False(waiting.IsCompleted);
            await server.DisposeAsync().AsTask().WaitAsync(s_limit);
            await Assert.ThrowsAsync<ObjectDisposedException>(() => waiting.WaitAsync(s_limit));
        }
    }
}
