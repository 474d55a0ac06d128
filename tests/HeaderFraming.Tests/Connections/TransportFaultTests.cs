using System.IO.Pipelines;
using System.Net.Sockets;
using HeaderFraming.Codecs;
using HeaderFraming.Testing;
using HeaderFraming.Tests.Infrastructure;

namespace HeaderFraming.Tests.Connections;

/// <summary>
/// Every complete frame received before a fault is delivered before the fault is reported, over a <see cref="Socket"/>, a
/// <see cref="Stream"/> and an <see cref="IDuplexPipe"/> alike; then the error and <see cref="FramedConnection.ShutdownReason"/>
/// say what happened.
/// </summary>
public sealed class TransportFaultTests
{
    private static readonly TimeSpan s_limit = TimeSpan.FromSeconds(20);
    private static readonly IFrameCodec s_codec = BinaryLengthCodec.UInt32BigEndian;

    public enum Transport
    {
        Socket,
        NetworkStream,
        DuplexPipe,
    }

    /// <summary>A framed connection and the raw peer that feeds it.</summary>
    private sealed class Rig : IAsyncDisposable
    {
        private readonly Socket? _peer;
        private readonly Pipe? _input;

        private Rig(FramedConnection connection, Socket? peer, Pipe? input)
        {
            Connection = connection;
            _peer = peer;
            _input = input;
        }

        public FramedConnection Connection { get; }

        public static async Task<Rig> CreateAsync(Transport transport)
        {
            if (transport == Transport.DuplexPipe)
            {
                // Kestrel's shape: the transport writes the connection's input pipe and reads its output pipe.
                var input = new Pipe();
                var output = new Pipe();
                FramedConnection piped = FramedConnection.Create(new DuplexPipe(input.Reader, output.Writer), s_codec);
                return new Rig(piped, null, input);
            }

            (Socket client, Socket server) = await Loopback.ConnectedPairAsync();
            FramedConnection connection = transport == Transport.Socket
                ? FramedConnection.Create(client, s_codec)
                : FramedConnection.Create(new NetworkStream(client, ownsSocket: true), s_codec);
            return new Rig(connection, server, null);
        }

        /// <summary>Sends raw bytes and waits until the connection has received all of them.</summary>
        public async Task SendAsync(byte[] bytes)
        {
            long expected = Connection.BytesReceived + bytes.Length;
            if (_input != null)
            {
                await _input.Writer.WriteAsync(bytes);
            }
            else
            {
                await _peer!.SendAsync(bytes);
            }

            var waited = System.Diagnostics.Stopwatch.StartNew();
            while (Connection.BytesReceived < expected)
            {
                Assert.True(waited.Elapsed < s_limit, "the connection never received the bytes");
                await Task.Delay(5);
            }
        }

        /// <summary>The peer resets the connection (RST), or the transport faults its pipe as Kestrel does on a reset.</summary>
        public void Reset()
        {
            if (_input != null)
            {
                _input.Writer.Complete(new ConnectionResetException("Connection reset by peer"));
            }
            else
            {
                Loopback.Reset(_peer!);
            }
        }

        /// <summary>The peer closes its side (FIN), or the transport completes the pipe.</summary>
        public void Close()
        {
            if (_input != null)
            {
                _input.Writer.Complete();
            }
            else
            {
                _peer!.Shutdown(SocketShutdown.Send);
            }
        }

        public async ValueTask DisposeAsync()
        {
            await Connection.DisposeAsync();
            _peer?.Dispose();
        }
    }

    private static byte[] Frames(int count, int partial = 0)
    {
        var payloads = Enumerable.Range(1, count).Select(i => Enumerable.Repeat((byte)i, i * 10).ToArray());
        byte[] whole = FrameTestKit.Encode(s_codec, payloads);
        byte[] cut = FrameTestKit.Encode(s_codec, [new byte[100]]).AsSpan(0, partial).ToArray();
        return [.. whole, .. cut];
    }

    private static async Task AssertFramesAsync(FramedConnection connection, int count)
    {
        for (int i = 1; i <= count; i++)
        {
            FrameReadResult result = await connection.ReadFrameAsync().AsTask().WaitAsync(s_limit);
            Assert.True(result.HasFrame, $"frame {i} of {count} was not delivered");
            Assert.Equal(i * 10, result.Frame.Payload.Length);
            Assert.Equal((byte)i, result.Frame.Payload.FirstSpan[0]);
        }
    }

    private static async Task AssertClosedFiresAsync(FramedConnection connection)
    {
        var fired = new TaskCompletionSource();
        using (connection.Closed.Register(() => fired.TrySetResult()))
        {
            await fired.Task.WaitAsync(s_limit);
        }
    }

    [Theory]
    [InlineData(Transport.Socket)]
    [InlineData(Transport.NetworkStream)]
    [InlineData(Transport.DuplexPipe)]
    public async Task FramesReceivedBeforeAResetAreDeliveredBeforeTheReset(Transport transport)
    {
        await using Rig rig = await Rig.CreateAsync(transport);
        await rig.SendAsync(Frames(3));
        rig.Reset();
        await AssertClosedFiresAsync(rig.Connection);

        // The reset is known, yet the three frames come first.
        Assert.Equal(ConnectionShutdownReason.Reset, rig.Connection.ShutdownReason);
        await AssertFramesAsync(rig.Connection, 3);
        IOException error = await Assert.ThrowsAsync<IOException>(async () => await rig.Connection.ReadFrameAsync().AsTask().WaitAsync(s_limit));
        Assert.Contains("reset by the peer after the last complete frame (3 frames", error.Message);
        Assert.NotNull(error.InnerException);
        Assert.Equal(3, rig.Connection.FramesReceived);
    }

    [Theory]
    [InlineData(Transport.Socket)]
    [InlineData(Transport.NetworkStream)]
    [InlineData(Transport.DuplexPipe)]
    public async Task AResetInsideAFrameDeliversTheEarlierFramesThenATruncationError(Transport transport)
    {
        await using Rig rig = await Rig.CreateAsync(transport);
        await rig.SendAsync(Frames(2, partial: 50));
        rig.Reset();
        await AssertClosedFiresAsync(rig.Connection);

        await AssertFramesAsync(rig.Connection, 2);
        var error = await Assert.ThrowsAsync<FrameTruncatedException>(async () => await rig.Connection.ReadFrameAsync().AsTask().WaitAsync(s_limit));
        Assert.Equal(50, error.ReceivedBytes);
        Assert.Equal(ConnectionShutdownReason.Reset, rig.Connection.ShutdownReason);
    }

    [Theory]
    [InlineData(Transport.Socket)]
    [InlineData(Transport.NetworkStream)]
    [InlineData(Transport.DuplexPipe)]
    public async Task APeerThatClosesMidFrameDeliversTheEarlierFramesThenATruncationError(Transport transport)
    {
        await using Rig rig = await Rig.CreateAsync(transport);
        await rig.SendAsync(Frames(2, partial: 7));
        rig.Close();
        await AssertClosedFiresAsync(rig.Connection);

        await AssertFramesAsync(rig.Connection, 2);
        await Assert.ThrowsAsync<FrameTruncatedException>(async () => await rig.Connection.ReadFrameAsync().AsTask().WaitAsync(s_limit));
        Assert.Equal(ConnectionShutdownReason.PeerClosedMidFrame, rig.Connection.ShutdownReason);
    }

    [Theory]
    [InlineData(Transport.Socket)]
    [InlineData(Transport.NetworkStream)]
    [InlineData(Transport.DuplexPipe)]
    public async Task APeerThatClosesBetweenFramesEndsReadingCleanly(Transport transport)
    {
        await using Rig rig = await Rig.CreateAsync(transport);
        await rig.SendAsync(Frames(4));
        rig.Close();
        await AssertClosedFiresAsync(rig.Connection);

        await AssertFramesAsync(rig.Connection, 4);
        FrameReadResult end = await rig.Connection.ReadFrameAsync().AsTask().WaitAsync(s_limit);
        Assert.True(end.IsCompleted);
        Assert.Equal(ConnectionShutdownReason.PeerClosed, rig.Connection.ShutdownReason);
    }

    [Theory]
    [InlineData(Transport.Socket)]
    [InlineData(Transport.NetworkStream)]
    [InlineData(Transport.DuplexPipe)]
    public async Task AMalformedFrameIsAProtocolErrorAfterTheEarlierFrames(Transport transport)
    {
        await using Rig rig = await Rig.CreateAsync(transport);
        byte[] tooLarge = [0x7F, 0xFF, 0xFF, 0xFF];
        await rig.SendAsync([.. Frames(2), .. tooLarge]);

        await AssertFramesAsync(rig.Connection, 2);
        await Assert.ThrowsAsync<FrameTooLargeException>(async () => await rig.Connection.ReadFrameAsync().AsTask().WaitAsync(s_limit));
        Assert.Equal(ConnectionShutdownReason.ProtocolError, rig.Connection.ShutdownReason);
        await AssertClosedFiresAsync(rig.Connection);
    }

    /// <summary>Kestrel's <c>Microsoft.AspNetCore.Connections.ConnectionResetException</c> has this name; the connection
    /// recognises it by name (the core package does not reference ASP.NET Core).</summary>
    private sealed class ConnectionResetException(string message) : IOException(message);
}
