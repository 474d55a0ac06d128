using System.Buffers;
using System.IO.Pipelines;
using System.IO.Pipes;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using HeaderFraming.Codecs;
using HeaderFraming.Serialization;
using HeaderFraming.Testing;
using HeaderFraming.Tests.Infrastructure;

namespace HeaderFraming.Tests;

public class FramedConnectionTests
{
    private static readonly TimeSpan s_limit = TimeSpan.FromSeconds(30);

    public static TheoryData<string> Transports => new() { "socket", "networkstream", "sslstream", "namedpipe", "duplexpipe" };

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task EveryTransportCarriesFramesBothWays(string transport)
    {
        (FramedConnection a, FramedConnection b, IAsyncDisposable cleanup) = await CreatePairAsync(transport, AsciiDecimalCodec.Default);
        await using (cleanup)
        await using (a)
        await using (b)
        {
            var random = new Random(42);
            byte[][] sent = Enumerable.Range(0, 200).Select(i => Checksummed.Create(1, i, random.Next(0, i % 50 == 0 ? 70_000 : 300), random)).ToArray();
            Task sender = Task.Run(async () =>
            {
                foreach (byte[] payload in sent)
                {
                    await a.SendAsync(payload);
                }

                await a.CompleteSendingAsync();
            });

            // A named pipe has no half-close: its reader counts frames instead of waiting for the end of the stream.
            bool halfClose = transport != "namedpipe";
            int count = 0;
            while (halfClose || count < sent.Length)
            {
                FrameReadResult result = await b.ReadFrameAsync().AsTask().WaitAsync(s_limit);
                if (result.IsCompleted)
                {
                    break;
                }

                Assert.Equal((1, count), Checksummed.Verify(result.Frame.Payload));
                count++;
            }

            await sender.WaitAsync(s_limit);
            Assert.Equal(sent.Length, count);

            // Half-close: b can still answer after a finished sending.
            if (transport is "socket" or "networkstream" or "duplexpipe")
            {
                await b.SendAsync("reply"u8.ToArray());
                FrameReadResult reply = await a.ReadFrameAsync().AsTask().WaitAsync(s_limit);
                Assert.Equal("reply", Encoding.ASCII.GetString(reply.Frame.Payload.ToArray()));
            }
        }
    }

    [Fact]
    public async Task ConcurrentSendersNeverInterleaveFrames()
    {
        (Socket client, Socket server) = await Loopback.ConnectedPairAsync();
        await using FramedConnection sender = FramedConnection.Create(client, BinaryLengthCodec.UInt32BigEndian);
        await using FramedConnection receiver = FramedConnection.Create(server, BinaryLengthCodec.UInt32BigEndian);
        const int Writers = 16;
        const int PerWriter = 500;
        Task[] writers = Enumerable.Range(0, Writers).Select(w => Task.Run(async () =>
        {
            var random = new Random(w);
            for (int i = 0; i < PerWriter; i++)
            {
                await sender.SendAsync(Checksummed.Create(w, i, random.Next(0, i % 97 == 0 ? 20_000 : 64), random));
            }
        })).ToArray();

        var next = new int[Writers];
        for (int n = 0; n < Writers * PerWriter; n++)
        {
            FrameReadResult result = await receiver.ReadFrameAsync().AsTask().WaitAsync(s_limit);
            (int writer, int sequence) = Checksummed.Verify(result.Frame.Payload);
            Assert.Equal(next[writer]++, sequence);
        }

        await Task.WhenAll(writers).WaitAsync(s_limit);
        Assert.All(next, n => Assert.Equal(PerWriter, n));
    }

    [Fact]
    public async Task ASlowReaderMakesSendersWaitWithinTheBufferBound()
    {
        (Socket client, Socket server) = await Loopback.ConnectedPairAsync();
        client.SendBufferSize = 16 * 1024;
        server.ReceiveBufferSize = 16 * 1024;
        var options = new FramedConnectionOptions { MaxBufferedSendBytes = 64 * 1024 };
        await using FramedConnection sender = FramedConnection.Create(client, BinaryLengthCodec.UInt32BigEndian, options);
        using var stopped = new CancellationTokenSource();
        long maxBuffered = 0;
        var waiting = new WaitingSenders(8);
        Task[] writers = Enumerable.Range(0, 8).Select(w => Task.Run(async () =>
        {
            var payload = new byte[1000];
            try
            {
                while (!stopped.IsCancellationRequested)
                {
                    await waiting.AwaitAsync(w, sender.SendAsync(payload, stopped.Token));
                    long buffered = sender.BufferedSendBytes;
                    long seen;
                    while ((seen = Interlocked.Read(ref maxBuffered)) < buffered && Interlocked.CompareExchange(ref maxBuffered, buffered, seen) != seen)
                    {
                    }
                }
            }
            catch (OperationCanceledException)
            {
            }
        })).ToArray();

        // Nobody reads the server socket: the kernel buffers fill, then our send buffer, then senders must wait.
        _ = await waiting.UntilAllWaitAsync(() => sender.BytesSent, TimeSpan.FromSeconds(30));

        Assert.InRange(sender.BufferedSendBytes, 1, options.MaxBufferedSendBytes + 1004);
        Assert.InRange(Interlocked.Read(ref maxBuffered), 1, options.MaxBufferedSendBytes + 1004);
        Assert.All(writers, w => Assert.False(w.IsCompleted));

        // Draining the server lets every waiting sender go on, and every frame arrives whole.
        stopped.Cancel();
        await using FramedConnection receiver = FramedConnection.Create(server, BinaryLengthCodec.UInt32BigEndian);
        Task drain = Task.Run(async () =>
        {
            while (true)
            {
                FrameReadResult r = await receiver.ReadFrameAsync();
                if (!r.HasFrame)
                {
                    return;
                }

                Assert.Equal(1000, r.Frame.Payload.Length);
            }
        });
        await Task.WhenAll(writers).WaitAsync(s_limit);
        await sender.CompleteSendingAsync().WaitAsync(s_limit);
        await drain.WaitAsync(s_limit);
    }

    [Fact]
    public async Task ACancelledSendWritesItsWholeFrameOrNothing()
    {
        (Socket client, Socket server) = await Loopback.ConnectedPairAsync();
        client.SendBufferSize = 8 * 1024;
        server.ReceiveBufferSize = 8 * 1024;
        await using FramedConnection sender = FramedConnection.Create(client, BinaryLengthCodec.UInt32BigEndian, new FramedConnectionOptions { MaxBufferedSendBytes = 16 * 1024 });
        var random = new Random(7);
        int attempted = 0;
        int cancelled = 0;
        for (int i = 0; i < 300; i++)
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(i % 3 == 0 ? 0 : 2));
            attempted++;
            try
            {
                await sender.SendAsync(Checksummed.Create(0, i, 2000, random), cts.Token);
            }
            catch (OperationCanceledException)
            {
                cancelled++;
            }
        }

        Assert.True(cancelled > 0, "the test never cancelled a send");
        await using FramedConnection receiver = FramedConnection.Create(server, BinaryLengthCodec.UInt32BigEndian);
        Task complete = sender.CompleteSendingAsync();
        int last = -1;
        int received = 0;
        while (true)
        {
            FrameReadResult r = await receiver.ReadFrameAsync().AsTask().WaitAsync(s_limit);
            if (r.IsCompleted)
            {
                break;
            }

            (_, int sequence) = Checksummed.Verify(r.Frame.Payload);
            Assert.True(sequence > last);
            last = sequence;
            received++;
        }

        await complete.WaitAsync(s_limit);
        Assert.InRange(received, attempted - cancelled, attempted);
    }

    [Fact]
    public async Task ACancelledReadConsumesNothing()
    {
        (Socket client, Socket server) = await Loopback.ConnectedPairAsync();
        await using FramedConnection a = FramedConnection.Create(client, AsciiDecimalCodec.Default);
        await using FramedConnection b = FramedConnection.Create(server, AsciiDecimalCodec.Default);
        using (var cts = new CancellationTokenSource(100))
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await b.ReadFrameAsync(cts.Token));
        }

        await a.SendAsync("first"u8.ToArray());
        await a.SendAsync("second"u8.ToArray());
        Assert.Equal("first", Encoding.ASCII.GetString((await b.ReadFrameAsync().AsTask().WaitAsync(s_limit)).Frame.Payload.ToArray()));
        Assert.Equal("second", Encoding.ASCII.GetString((await b.ReadFrameAsync().AsTask().WaitAsync(s_limit)).Frame.Payload.ToArray()));
    }

    [Fact]
    public async Task AnIdlePeerTimesOut()
    {
        (Socket client, Socket server) = await Loopback.ConnectedPairAsync();
        using (client)
        {
            var options = new FramedConnectionOptions();
            options.Reader.IdleTimeout = TimeSpan.FromMilliseconds(200);
            await using FramedConnection b = FramedConnection.Create(server, AsciiDecimalCodec.Default, options);
            var ex = await Assert.ThrowsAsync<FrameTimeoutException>(async () => await b.ReadFrameAsync().AsTask().WaitAsync(s_limit));
            Assert.True(ex.IsIdleTimeout);
        }
    }

    [Fact]
    public async Task APeerTricklingAHeaderTimesOut()
    {
        (Socket client, Socket server) = await Loopback.ConnectedPairAsync();
        using (client)
        {
            var options = new FramedConnectionOptions();
            options.Reader.FrameTimeout = TimeSpan.FromMilliseconds(400);
            await using FramedConnection b = FramedConnection.Create(server, AsciiDecimalCodec.Default, options);
            using var stop = new CancellationTokenSource();
            // The whole frame, a byte every 60 ms (about 1.9 s): a deadline that each byte moved would let it complete. Only
            // the bytes received are bounded by what was sent, so a late timer (up to 1.5 s late) still passes.
            Task<int> trickle = SlowPeer.TrickleAsync(client, Encoding.ASCII.GetBytes("22        Welcome to the server!"), TimeSpan.FromMilliseconds(60), stop.Token);
            var ex = await Assert.ThrowsAsync<FrameTimeoutException>(async () => await b.ReadFrameAsync().AsTask().WaitAsync(s_limit));
            stop.Cancel();
            int trickled = await trickle;
            Assert.False(ex.IsIdleTimeout);
            Assert.InRange(ex.ReceivedBytes, 1, trickled);
        }
    }

    [Fact]
    public async Task APeerClosingBetweenFramesEndsReadingCleanly()
    {
        (Socket client, Socket server) = await Loopback.ConnectedPairAsync();
        await using FramedConnection b = FramedConnection.Create(server, AsciiDecimalCodec.Default);
        await client.SendAsync(FrameTestKit.Encode(AsciiDecimalCodec.Default, [Encoding.ASCII.GetBytes("last words")]));
        client.Shutdown(SocketShutdown.Both);
        client.Dispose();
        Assert.Equal("last words", Encoding.ASCII.GetString((await b.ReadFrameAsync().AsTask().WaitAsync(s_limit)).Frame.Payload.ToArray()));
        Assert.True((await b.ReadFrameAsync().AsTask().WaitAsync(s_limit)).IsCompleted);
    }

    [Fact]
    public async Task TryReadFrameReturnsTheFramesReceivedSinceTheLastReadWithoutAWait()
    {
        // What a drain (a graceful shutdown's) relies on: every whole frame among the bytes counted in BytesReceived comes
        // out of TryReadFrame, not only those the last read happened to buffer.
        (Socket client, Socket server) = await Loopback.ConnectedPairAsync();
        using var peer = client;
        await using FramedConnection b = FramedConnection.Create(server, AsciiDecimalCodec.Default);
        byte[] first = FrameTestKit.Encode(AsciiDecimalCodec.Default, [Encoding.ASCII.GetBytes("one")]);
        byte[] later = FrameTestKit.Encode(AsciiDecimalCodec.Default, [Encoding.ASCII.GetBytes("two"), Encoding.ASCII.GetBytes("three")]);
        await client.SendAsync(first);
        Assert.Equal("one", Encoding.ASCII.GetString((await b.ReadFrameAsync().AsTask().WaitAsync(s_limit)).Frame.Payload.ToArray()));
        await client.SendAsync(later);
        await UntilReceivedAsync(b, first.Length + later.Length);

        Assert.True(b.TryReadFrame(out Frame two), "a frame the connection had received did not come out");
        Assert.Equal("two", Encoding.ASCII.GetString(two.Payload.ToArray()));
        Assert.Equal("three", NextPayloadBySpans(b));
        Assert.False(b.TryReadFrame(out Frame _));
        await client.SendAsync(FrameTestKit.Encode(AsciiDecimalCodec.Default, [Encoding.ASCII.GetBytes("four")]));
        await UntilReceivedAsync(b, first.Length + later.Length + 14);
        Assert.Equal("four", NextPayloadBySpans(b));

        static string? NextPayloadBySpans(FramedConnection connection)
            => connection.TryReadFrame(out ReadOnlySpan<byte> _, out ReadOnlySpan<byte> payload) ? Encoding.ASCII.GetString(payload) : null;
    }

    [Theory]
    [InlineData(16, 4096)]
    [InlineData(1024, 4096)]
    [InlineData(16, 0)]
    public async Task TheSpanDrainLoopGetsEveryFrameOfAStreamWhateverItsSegments(int payloadLength, int segmentSize)
    {
        // The README's fastest loop on a connection: drain with TryReadFrame as spans, await ReadFrameAsync when none is left.
        const int Frames = 20_000;
        (Socket client, Socket server) = await Loopback.ConnectedPairAsync();
        var options = segmentSize == 0 ? new FramedConnectionOptions() : new FramedConnectionOptions { SegmentSize = segmentSize };
        await using FramedConnection sender = FramedConnection.Create(client, BinaryLengthCodec.UInt32BigEndian);
        await using FramedConnection receiver = FramedConnection.Create(server, BinaryLengthCodec.UInt32BigEndian, options);
        byte[] payload = new byte[payloadLength];
        Task sending = Task.Run(async () =>
        {
            for (int i = 0; i < Frames; i++)
            {
                payload[0] = (byte)i;
                await sender.SendAsync(payload);
            }
        });

        int frames = 0;
        while (frames < Frames)
        {
            while (frames < Frames && TryNext(receiver, out byte first))
            {
                Assert.Equal((byte)frames, first);
                frames++;
            }

            if (frames == Frames)
            {
                break;
            }

            FrameReadResult result;
            try
            {
                result = await receiver.ReadFrameAsync().AsTask().WaitAsync(s_limit);
            }
            catch (TimeoutException)
            {
                // WaitAsync, not a Task.Delay raced against the read: no 30-second timer is left behind.
                throw new TimeoutException($"the read after {frames} frames hung: received {receiver.BytesReceived} of {Frames * (payloadLength + 4L)} bytes, sent {sender.BytesSent}");
            }

            Assert.True(result.HasFrame, $"the stream ended after {frames} frames");
            Assert.Equal((byte)frames, result.Frame.Payload.Slice(0, 1).ToArray()[0]);
            frames++;
        }

        await sending.WaitAsync(s_limit);

        static bool TryNext(FramedConnection connection, out byte first)
        {
            bool got = connection.TryReadFrame(out ReadOnlySpan<byte> _, out ReadOnlySpan<byte> payload);
            first = got ? payload[0] : (byte)0;
            return got;
        }
    }

    [Fact]
    public async Task APeerResettingMidFrameIsATruncationAfterEarlierFrames()
    {
        (Socket client, Socket server) = await Loopback.ConnectedPairAsync();
        await using FramedConnection b = FramedConnection.Create(server, AsciiDecimalCodec.Default);
        byte[] whole = FrameTestKit.Encode(AsciiDecimalCodec.Default, [Encoding.ASCII.GetBytes("complete"), new byte[100]]);
        await client.SendAsync(whole.AsMemory(0, whole.Length - 50));
        Assert.Equal("complete", Encoding.ASCII.GetString((await b.ReadFrameAsync().AsTask().WaitAsync(s_limit)).Frame.Payload.ToArray()));
        // A reset discards what the kernel has not handed over yet: reset once every byte sent is in the connection.
        await UntilReceivedAsync(b, whole.Length - 50);
        Loopback.Reset(client);
        var ex = await Assert.ThrowsAsync<FrameTruncatedException>(async () => await b.ReadFrameAsync().AsTask().WaitAsync(s_limit));
        Assert.Equal((60L, 110L, 18L), (ex.ReceivedBytes, ex.ExpectedBytes, ex.StreamOffset));
    }

    [Fact]
    public async Task APeerResettingBetweenFramesIsAnIOExceptionAfterEarlierFrames()
    {
        (Socket client, Socket server) = await Loopback.ConnectedPairAsync();
        await using FramedConnection b = FramedConnection.Create(server, AsciiDecimalCodec.Default);
        byte[] both = FrameTestKit.Encode(AsciiDecimalCodec.Default, [Encoding.ASCII.GetBytes("one"), Encoding.ASCII.GetBytes("two")]);
        await client.SendAsync(both);
        Assert.Equal("one", Encoding.ASCII.GetString((await b.ReadFrameAsync().AsTask().WaitAsync(s_limit)).Frame.Payload.ToArray()));
        await UntilReceivedAsync(b, both.Length);
        Loopback.Reset(client);
        Assert.Equal("two", Encoding.ASCII.GetString((await b.ReadFrameAsync().AsTask().WaitAsync(s_limit)).Frame.Payload.ToArray()));
        await Assert.ThrowsAsync<IOException>(async () => await b.ReadFrameAsync().AsTask().WaitAsync(s_limit));
    }

    [Fact]
    public async Task SendingToAPeerThatWentAwayFailsWithAnIOException()
    {
        (Socket client, Socket server) = await Loopback.ConnectedPairAsync();
        await using FramedConnection a = FramedConnection.Create(client, AsciiDecimalCodec.Default);
        Loopback.Reset(server);
        var ex = await Assert.ThrowsAsync<IOException>(async () =>
        {
            for (int i = 0; i < 10_000; i++)
            {
                await a.SendAsync(new byte[1000]).AsTask().WaitAsync(s_limit);
                await Task.Yield();
            }
        });
        Assert.Contains("can no longer send", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SendingAfterCompletionIsRefused()
    {
        var (a, b) = DuplexPipe.CreatePair();
        await using FramedConnection left = FramedConnection.Create(a, AsciiDecimalCodec.Default);
        await left.CompleteSendingAsync();
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await left.SendAsync(new byte[1]));
        GC.KeepAlive(b);
    }

    [Fact]
    public async Task ConnectAsyncReachesAListeningServer()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        Task<Socket> accept = listener.AcceptSocketAsync();
        await using FramedConnection client = await FramedConnection.ConnectAsync("127.0.0.1", ((IPEndPoint)listener.LocalEndpoint).Port, VarintCodec.Instance);
        await using FramedConnection server = FramedConnection.Create(await accept, VarintCodec.Instance);
        await client.SendAsync("ping", Utf8TextSerializer.Instance);
        Assert.Equal("ping", await server.ReadAsync(Utf8TextSerializer.Instance).AsTask().WaitAsync(s_limit));
    }

    [Fact]
    public async Task LeaveOpenKeepsTheStreamUsable()
    {
        (Socket client, Socket server) = await Loopback.ConnectedPairAsync();
        using (client)
        using (server)
        {
            var stream = new NetworkStream(client, ownsSocket: false);
            await using (FramedConnection a = FramedConnection.Create(stream, AsciiDecimalCodec.Default, leaveOpen: true))
            {
                await a.SendAsync("framed"u8.ToArray());
            }

            await stream.WriteAsync("raw"u8.ToArray());
            var buffer = new byte[19];
            await server.ReceiveAsync(buffer.AsMemory(0, 16));
            int n = 16;
            while (n < 19)
            {
                n += await server.ReceiveAsync(buffer.AsMemory(n));
            }

            Assert.Equal("6         framedraw", Encoding.ASCII.GetString(buffer));
        }
    }

    private static async Task<(FramedConnection A, FramedConnection B, IAsyncDisposable Cleanup)> CreatePairAsync(string transport, IFrameCodec codec)
    {
        switch (transport)
        {
            case "socket":
            {
                (Socket client, Socket server) = await Loopback.ConnectedPairAsync();
                return (FramedConnection.Create(client, codec), FramedConnection.Create(server, codec), new Nothing());
            }

            case "networkstream":
            {
                (Socket client, Socket server) = await Loopback.ConnectedPairAsync();
                return (FramedConnection.Create(new NetworkStream(client, ownsSocket: true), codec), FramedConnection.Create(new NetworkStream(server, ownsSocket: true), codec), new Nothing());
            }

            case "sslstream":
            {
                (Socket client, Socket server) = await Loopback.ConnectedPairAsync();
                X509Certificate2 certificate = SelfSignedCertificate.Create();
                var serverSsl = new SslStream(new NetworkStream(server, ownsSocket: true));
                var clientSsl = new SslStream(new NetworkStream(client, ownsSocket: true), false,
                    (_, cert, _, _) => cert != null && cert.GetCertHashString() == certificate.GetCertHashString());
                await Task.WhenAll(
                    serverSsl.AuthenticateAsServerAsync(certificate),
                    clientSsl.AuthenticateAsClientAsync("localhost")).WaitAsync(s_limit);
                return (FramedConnection.Create(clientSsl, codec), FramedConnection.Create(serverSsl, codec), new Disposer(certificate));
            }

            case "namedpipe":
            {
                string name = "hf-" + Guid.NewGuid().ToString("N");
                var serverPipe = new NamedPipeServerStream(name, PipeDirection.InOut, 1, PipeTransmissionMode.Byte, System.IO.Pipes.PipeOptions.Asynchronous);
                var clientPipe = new NamedPipeClientStream(".", name, PipeDirection.InOut, System.IO.Pipes.PipeOptions.Asynchronous);
                await Task.WhenAll(serverPipe.WaitForConnectionAsync(), clientPipe.ConnectAsync()).WaitAsync(s_limit);
                return (FramedConnection.Create(clientPipe, codec), FramedConnection.Create(serverPipe, codec), new Nothing());
            }

            default:
            {
                (IDuplexPipe a, IDuplexPipe b) = DuplexPipe.CreatePair();
                return (FramedConnection.Create(a, codec), FramedConnection.Create(b, codec), new Nothing());
            }
        }
    }

    private sealed class Nothing : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => default;
    }

    private sealed class Disposer(IDisposable disposable) : IAsyncDisposable
    {
        public ValueTask DisposeAsync()
        {
            disposable.Dispose();
            return default;
        }
    }

    /// <summary>Waits until <paramref name="connection"/> has received <paramref name="bytes"/> bytes (bounded by the test's limit).</summary>
    private static Task UntilReceivedAsync(FramedConnection connection, long bytes)
        => Poll.UntilAsync(() => connection.BytesReceived >= bytes, s_limit, () => $"the connection received {bytes} bytes (it has {connection.BytesReceived})");
}
