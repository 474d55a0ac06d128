using System.Buffers;
using System.IO.Pipelines;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using HeaderFraming.Codecs;
using HeaderFraming.Testing;
using HeaderFraming.Tests.Infrastructure;
using static HeaderFraming.Tests.Infrastructure.FrameTestKit;

namespace HeaderFraming.Tests;

/// <summary>Raw reads and writes, codec switches, live limits, skipping oversized frames, trailers, prefixes and detach.</summary>
public sealed class SwitchingTests
{
    private static readonly TimeSpan s_limit = TimeSpan.FromSeconds(20);

    private static FrameReader ReaderOver(byte[] wire, IFrameCodec codec, FrameReaderOptions? options = null)
    {
        var pipe = new Pipe();
        pipe.Writer.Write(wire);
        pipe.Writer.Complete();
        return new FrameReader(pipe.Reader, codec, options);
    }

    [Fact]
    public async Task AProxyV1LineIsReadUpToItsDelimiterAndTheFramesAfterItAreDecoded()
    {
        byte[] line = Ascii("PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n");
        byte[] wire = [.. line, .. Encode(AsciiDecimalCodec.Default, [Ascii("hello")])];
        FrameReader reader = ReaderOver(wire, AsciiDecimalCodec.Default);

        ReadOnlySequence<byte> preamble = await reader.ReadUntilAsync(Ascii("\r\n"), 107);
        Assert.Equal(line, preamble.ToArray());
        Assert.Equal(line.Length, reader.Position);
        FrameReadResult frame = await reader.ReadFrameAsync();
        Assert.Equal("hello", Encoding.ASCII.GetString(frame.Frame.Payload.ToArray()));
        Assert.Equal(line.Length, frame.Frame.StreamOffset);
    }

    [Fact]
    public async Task APreambleWithoutItsDelimiterWithinTheLimitFaultsTheReaderWithTheBytes()
    {
        FrameReader reader = ReaderOver(Ascii(new string('A', 200)), AsciiDecimalCodec.Default);
        var ex = await Assert.ThrowsAsync<FrameFormatException>(async () => await reader.ReadUntilAsync(Ascii("\r\n"), 107));
        Assert.Contains("no delimiter (\\r\\n) in the first 107 bytes", ex.Message);
        Assert.Equal(0, ex.StreamOffset);
        await Assert.ThrowsAsync<FrameFormatException>(async () => await reader.ReadFrameAsync());
    }

    [Fact]
    public async Task APeekConsumesNothingAndRawReadsAtTheEndOfTheStreamAreTruncations()
    {
        FrameReader reader = ReaderOver(Ascii("PRI * HTTP/2.0"), AsciiDecimalCodec.Default);
        Assert.Equal("PRI", Encoding.ASCII.GetString((await reader.PeekAsync(3)).ToArray()));
        Assert.Equal("PRI * ", Encoding.ASCII.GetString((await reader.ReadExactlyAsync(6)).ToArray()));
        Assert.Equal("HTTP/2.0", Encoding.ASCII.GetString((await reader.PeekAsync(100)).ToArray())); // fewer: the stream ended
        var ex = await Assert.ThrowsAsync<FrameTruncatedException>(async () => await reader.ReadExactlyAsync(24));
        Assert.Equal(8, ex.ReceivedBytes);
        Assert.Equal(24, ex.ExpectedBytes);
    }

    [Fact]
    public async Task TheCodecAndTheLimitCannotChangeWhileAReadWaitsAndAOneReadCodecIsRestoredAfterIt()
    {
        var pipe = new Pipe();
        var reader = new FrameReader(pipe.Reader, AsciiDecimalCodec.Default);
        ValueTask<FrameReadResult> pending = reader.ReadFrameAsync();
        Assert.Throws<InvalidOperationException>(() => reader.Codec = BinaryLengthCodec.UInt16BigEndian);
        Assert.Throws<InvalidOperationException>(() => reader.MaxFrameLength = 5);
        await pipe.Writer.WriteAsync(Encode(AsciiDecimalCodec.Default, [Ascii("one")]));
        Assert.True((await pending).HasFrame);

        ValueTask<FrameReadResult> once = reader.ReadFrameAsync(BinaryLengthCodec.UInt16BigEndian);
        Assert.Same(BinaryLengthCodec.UInt16BigEndian, reader.Codec);
        await pipe.Writer.WriteAsync(new byte[] { 0, 2, (byte)'h', (byte)'i' });
        Assert.Equal("hi", Encoding.ASCII.GetString((await once).Frame.Payload.ToArray()));
        Assert.Same(AsciiDecimalCodec.Default, reader.Codec);
    }

    [Fact]
    public async Task ALoweredMaxFrameLengthAppliesToTheNextHeader()
    {
        byte[] wire = Encode(BinaryLengthCodec.UInt16BigEndian, [new byte[100], new byte[100], new byte[50]]);
        FrameReader reader = ReaderOver(wire, BinaryLengthCodec.UInt16BigEndian);
        Assert.True((await reader.ReadFrameAsync()).HasFrame);
        reader.MaxFrameLength = 99; // the peer's SETTINGS arrived
        var ex = await Assert.ThrowsAsync<FrameTooLargeException>(async () => await reader.ReadFrameAsync());
        Assert.Equal(100, ex.DeclaredLength);
        Assert.Equal(102, ex.StreamOffset);
    }

    public sealed record SkipCase(int[] Lengths, int Limit, int[] Chunks)
    {
        public override string ToString() => $"[{string.Join(",", Lengths)}] limit {Limit} chunks [{string.Join(",", Chunks)}]";
    }

    [Property(MaxTest = 200)]
    public Property OversizedFramesAreSkippedAsTheyArriveAndEveryOtherFrameIsDelivered() =>
        Prop.ForAll(
            (from lengths in Gen.Frequency((4, Gen.Choose(0, 600)), (1, Gen.Choose(5_000, 60_000))).ArrayOf().Select(a => a.Take(30).ToArray())
             from limit in Gen.Choose(0, 1000)
             from chunks in Gen.Choose(1, 5000).ArrayOf()
             select new SkipCase(lengths, limit, chunks)).ToArbitrary(),
            c =>
            {
                byte[][] payloads = c.Lengths.Select((length, i) => Generators.Bytes(length, i)).ToArray();
                byte[] wire = Encode(SwitchingCodecs.Amqp, payloads, header: [1, 0, 0, 0, 0, 0, 0]);

                // A pipe that pauses its writer at 8 KiB: a reader that buffered a skipped 60 KB frame would deadlock here.
                var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 8192, resumeWriterThreshold: 4096, minimumSegmentSize: 512));
                Task feeder = Task.Run(() => WriteInChunksAsync(pipe.Writer, wire, c.Chunks));
                var reader = new FrameReader(pipe.Reader, SwitchingCodecs.Amqp, new FrameReaderOptions { MaxFrameLength = c.Limit, SkipOversizedFrames = true });
                List<byte[]> delivered = DrainAsync(reader).WaitAsync(s_limit).GetAwaiter().GetResult();
                feeder.WaitAsync(s_limit).GetAwaiter().GetResult();

                byte[][] expected = payloads.Where(p => p.Length <= c.Limit).ToArray();
                Assert.Equal(expected.Length, delivered.Count);
                for (int i = 0; i < expected.Length; i++)
                {
                    Assert.True(expected[i].AsSpan().SequenceEqual(delivered[i]), $"frame {i} differs");
                }

                Assert.Equal(payloads.Length - expected.Length, reader.FramesSkipped);
                Assert.Equal(wire.Length, reader.Position);
            });

    [Fact]
    public async Task AWrongTrailerFaultsTheReaderAfterEveryEarlierFrameWithItsOffsetAndBytes()
    {
        byte[] good = Encode(SwitchingCodecs.Amqp, [Ascii("ok")], header: [1, 0, 0, 0, 0, 0, 0]);
        byte[] bad = Encode(SwitchingCodecs.Amqp, [Ascii("no")], header: [1, 0, 0, 0, 0, 0, 0]);
        bad[^1] = 0xCD;
        FrameReader reader = ReaderOver([.. good, .. bad], SwitchingCodecs.Amqp);
        Assert.Equal("ok", Encoding.ASCII.GetString((await reader.ReadFrameAsync()).Frame.Payload.ToArray()));
        var ex = await Assert.ThrowsAsync<FrameFormatException>(async () => await reader.ReadFrameAsync());
        Assert.Equal(good.Length, ex.StreamOffset);
        Assert.Contains("trailer", ex.Message);
        Assert.Contains("CD", ex.Message);
        Assert.Contains("expected CE", ex.Message);
    }

    [Fact]
    public void ASendLimitRefusesALongerPayloadBeforeAnyByteIsWritten()
    {
        var pipe = new Pipe();
        var writer = new FrameWriter(pipe.Writer, BinaryLengthCodec.UInt32BigEndian) { MaxFrameLength = 16 };
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => writer.Write(new byte[17]));
        Assert.Contains("send limit of 16 bytes", ex.Message);
        IBufferWriter<byte> body = writer.BeginFrame();
        Assert.Throws<ArgumentOutOfRangeException>(() => body.Write(new byte[17])); // refused as the payload outgrows it
        Assert.Throws<InvalidOperationException>(() => writer.EndFrame()); // and abandoned
        Assert.Equal(0, writer.BytesWritten);
        writer.Write(new byte[16]);
        Assert.Equal(20, writer.BytesWritten);
    }

    [Fact]
    public async Task APrefixCodecNeedsItsPrefixAndWritesItsLengthAfterIt()
    {
        var pipe = new Pipe();
        var writer = new FrameWriter(pipe.Writer, SwitchingCodecs.ControlByteVarint);
        var ex = Assert.Throws<InvalidOperationException>(() => writer.Write(Ascii("x")));
        Assert.Contains("starts with 1 bytes before the length", ex.Message);
        writer.Write([0x30], new byte[200]);
        IBufferWriter<byte> body = writer.BeginFrame([0x82]);
        body.Write(new byte[] { 9 });
        writer.EndFrame();
        await writer.FlushAsync();
        writer.Complete();
        byte[] wire = (await pipe.Reader.ReadAsync()).Buffer.ToArray();
        Assert.Equal(new byte[] { 0x30, 0xC8, 0x01 }, wire[..3]);
        Assert.Equal(new byte[] { 0x82, 0x01, 9 }, wire[^3..]);
    }

    public enum Transport
    {
        Socket,
        NetworkStream,
        DuplexPipe,
    }

    [Theory]
    [InlineData(Transport.Socket)]
    [InlineData(Transport.NetworkStream)]
    [InlineData(Transport.DuplexPipe)]
    public async Task ADetachHandsBackTheTransportWithEveryUnreadByteAndNoneTwice(Transport transport)
    {
        // The peer sends three frames and a tail of bytes that are no frame at all; the connection reads two frames, sends a
        // reply, and detaches: the third frame and the tail must come back exactly once, then the bytes sent after.
        byte[] frames = Encode(BinaryLengthCodec.UInt16BigEndian, [Ascii("one"), Ascii("two"), Ascii("three")]);
        byte[] tail = Ascii("-- not a frame --");
        byte[] later = Ascii("after the detach");
        (FramedConnection connection, Func<ReadOnlyMemory<byte>, Task> peerSend, Func<int, Task<byte[]>> peerReceive, IDisposable? owner) = await OpenAsync(transport);
        using (owner)
        {
            await peerSend(frames);
            await peerSend(tail);
            Assert.Equal("one", Encoding.ASCII.GetString((await connection.ReadFrameAsync()).Frame.Payload.ToArray()));
            Assert.Equal("two", Encoding.ASCII.GetString((await connection.ReadFrameAsync()).Frame.Payload.ToArray()));
            await connection.SendAsync(Ascii("go"));

            // Wait until the tail is in the connection's buffer, so that Buffered must hold it.
            while (connection.BytesReceived < frames.Length + tail.Length)
            {
                await Task.Delay(5);
            }

            DetachedTransport detached = await Step(connection.DetachAsync().AsTask(), "the detach");
            Assert.Equal(ConnectionShutdownReason.Detached, connection.ShutdownReason);
            Assert.Throws<ObjectDisposedException>(() => connection.TryReadFrame(out Frame _));
            await Assert.ThrowsAsync<ObjectDisposedException>(async () => await connection.SendAsync(Ascii("late")));
            await connection.DisposeAsync(); // nothing more: the transport is the caller's now

            Assert.Equal(new byte[] { 0, 2, (byte)'g', (byte)'o' }, await Step(peerReceive(4), "the peer's receive of the reply sent before the detach")); // not shut down
            byte[] third = Encode(BinaryLengthCodec.UInt16BigEndian, [Ascii("three")]);
            Assert.Equal([.. third, .. tail], detached.Buffered.ToArray());

            await peerSend(later);
            Stream stream = detached.AsStream();
            var received = new byte[third.Length + tail.Length + later.Length];
            await Step(stream.ReadExactlyAsync(received).AsTask(), "the read of the buffered bytes and the bytes sent after the detach");
            Assert.Equal([.. third, .. tail, .. later], received);
            await stream.WriteAsync(Ascii("raw"));
            await stream.FlushAsync();
            Assert.Equal(Ascii("raw"), await Step(peerReceive(3), "the peer's receive of a raw write after the detach"));
            Assert.Same(transport == Transport.Socket ? detached.Socket : transport == Transport.NetworkStream ? detached.Stream : (object?)detached.Pipe, detached.Socket ?? detached.Stream ?? (object?)detached.Pipe);
        }
    }

    [Fact]
    public async Task StartTlsDetachesThePlainConnectionAndTheClientHelloAlreadyReceivedReachesTheTlsLayer()
    {
        using X509Certificate2 certificate = SelfSignedCertificate.Create();
        (Socket clientSocket, Socket serverSocket) = await Loopback.ConnectedPairAsync();
        IFrameCodec codec = BinaryLengthCodec.UInt32BigEndian;
        await using FramedConnection plainServer = FramedConnection.Create(serverSocket, codec);
        await using FramedConnection plainClient = FramedConnection.Create(clientSocket, codec);

        Task<string> client = Task.Run(async () =>
        {
            await plainClient.SendAsync(Ascii("STARTTLS"));
            FrameReadResult reply = await plainClient.ReadFrameAsync();
            Assert.Equal("GO", Encoding.ASCII.GetString(reply.Frame.Payload.ToArray()));
            DetachedTransport mine = await plainClient.DetachAsync();
            var tls = new SslStream(mine.AsStream(), leaveInnerStreamOpen: false, (_, _, _, _) => true);
            await tls.AuthenticateAsClientAsync("localhost");
            await using FramedConnection secure = FramedConnection.Create(tls, codec);
            await secure.SendAsync(Ascii("secret"));
            return Encoding.ASCII.GetString((await secure.ReadFrameAsync()).Frame.Payload.ToArray());
        });

        FrameReadResult request = await plainServer.ReadFrameAsync().AsTask().WaitAsync(s_limit);
        Assert.Equal("STARTTLS", Encoding.ASCII.GetString(request.Frame.Payload.ToArray()));
        long consumed = plainServer.BytesReceived;
        await plainServer.SendAsync(Ascii("GO"));

        // Let the ClientHello arrive before the detach: it is then in the server connection's buffer, not the socket's.
        while (plainServer.BytesReceived == consumed)
        {
            await Task.Delay(5);
        }

        DetachedTransport detached = await plainServer.DetachAsync().AsTask().WaitAsync(s_limit);
        Assert.True(detached.Buffered.Length > 0);
        Assert.Equal(0x16, detached.Buffered.Span[0]); // a TLS handshake record
        var serverTls = new SslStream(detached.AsStream());
        await serverTls.AuthenticateAsServerAsync(certificate).WaitAsync(s_limit);
        await using FramedConnection secureServer = FramedConnection.Create(serverTls, codec);
        Assert.Equal("secret", Encoding.ASCII.GetString((await secureServer.ReadFrameAsync().AsTask().WaitAsync(s_limit)).Frame.Payload.ToArray()));
        await secureServer.SendAsync(Ascii("welcome"));
        Assert.Equal("welcome", await client.WaitAsync(s_limit));
    }

    [Fact]
    public async Task ASendCodecChangeAppliesToTheSendsCalledAfterItInCallOrder()
    {
        (Socket a, Socket b) = await Loopback.ConnectedPairAsync();
        await using FramedConnection sender = FramedConnection.Create(a, AsciiDecimalCodec.Default);
        await using FramedConnection receiver = FramedConnection.Create(b, AsciiDecimalCodec.Default);

        // Not awaited: the first sends may still be queued when the codec changes; they keep the codec they were called with.
        var sends = new List<Task>();
        for (int i = 0; i < 50; i++)
        {
            sends.Add(sender.SendAsync(new byte[20_000]).AsTask());
        }

        sender.SendCodec = BinaryLengthCodec.UInt16BigEndian;
        sends.Add(sender.SendAsync(BinaryLengthCodec.UInt32BigEndian, default, Ascii("once")).AsTask());
        for (int i = 0; i < 50; i++)
        {
            sends.Add(sender.SendAsync(Ascii($"b{i}")).AsTask());
        }

        for (int i = 0; i < 50; i++)
        {
            Assert.Equal(20_000, (await receiver.ReadFrameAsync().AsTask().WaitAsync(s_limit)).Frame.PayloadLength);
        }

        receiver.ReceiveCodec = BinaryLengthCodec.UInt16BigEndian;
        Assert.Equal("once", Encoding.ASCII.GetString((await receiver.ReadFrameAsync(BinaryLengthCodec.UInt32BigEndian)).Frame.Payload.ToArray()));
        for (int i = 0; i < 50; i++)
        {
            Assert.Equal($"b{i}", Encoding.ASCII.GetString((await receiver.ReadFrameAsync().AsTask().WaitAsync(s_limit)).Frame.Payload.ToArray()));
        }

        await Task.WhenAll(sends).WaitAsync(s_limit);
    }

    [Fact]
    public async Task ASendTheCodecCannotFrameIsRefusedAtTheCallAndNothingIsSent()
    {
        (Socket a, Socket b) = await Loopback.ConnectedPairAsync();
        using var peer = b;
        // HTTP/2's header: a 3-byte length, then type, flags and stream id that only the caller knows.
        await using FramedConnection connection = FramedConnection.Create(a, new BinaryLengthCodec(3, Endianness.BigEndian, fieldOffset: 0, headerLength: 9));
        var ex = Assert.Throws<InvalidOperationException>(() => connection.SendAsync(Ascii("DATA")));
        Assert.Contains("needs the header from the caller", ex.Message);
        connection.MaxSendFrameLength = 16_384;
        Assert.Throws<ArgumentOutOfRangeException>(() => connection.SendAsync(new byte[9], new byte[16_385]));
        Assert.Equal(0, connection.FramesSent);
        await connection.SendAsync(new byte[] { 0, 0, 0, 1, 0, 0, 0, 0, 1 }, Ascii("DATA"));
        var received = new byte[13];
        Assert.Equal(13, await peer.ReceiveAsync(received.AsMemory()).AsTask().WaitAsync(s_limit));
        Assert.Equal(new byte[] { 0, 0, 4, 1, 0, 0, 0, 0, 1 }, received[..9]);
    }

    private static async Task<List<byte[]>> DrainAsync(FrameReader reader)
    {
        var payloads = new List<byte[]>();
        while (true)
        {
            FrameReadResult result = await reader.ReadFrameAsync();
            if (!result.HasFrame)
            {
                return payloads;
            }

            payloads.Add(result.Frame.Payload.ToArray());
        }
    }

    /// <summary>Waits for one step of a conversation at most <see cref="s_limit"/>, and says which step did not end.</summary>
    private static async Task<T> Step<T>(Task<T> step, string what)
    {
        await Step((Task)step, what);
        return await step;
    }

    private static async Task Step(Task step, string what)
    {
        try
        {
            await step.WaitAsync(s_limit);
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException($"{what} did not end within {s_limit.TotalSeconds} s", ex);
        }
    }

    private static async Task<(FramedConnection Connection, Func<ReadOnlyMemory<byte>, Task> PeerSend, Func<int, Task<byte[]>> PeerReceive, IDisposable? Owner)> OpenAsync(Transport transport)
    {
        IFrameCodec codec = BinaryLengthCodec.UInt16BigEndian;
        if (transport == Transport.DuplexPipe)
        {
            (IDuplexPipe mine, IDuplexPipe theirs) = DuplexPipe.CreatePair();
            return (
                FramedConnection.Create(mine, codec),
                async bytes => await theirs.Output.WriteAsync(bytes),
                async count =>
                {
                    ReadResult read = await theirs.Input.ReadAtLeastAsync(count).AsTask().WaitAsync(s_limit);
                    byte[] taken = read.Buffer.Slice(0, count).ToArray();
                    theirs.Input.AdvanceTo(read.Buffer.GetPosition(count));
                    return taken;
                },
                null);
        }

        SocketPair pair = await Loopback.ConnectedPairAsync();
        FramedConnection connection = transport == Transport.Socket
            ? FramedConnection.Create(pair.Server, codec)
            : FramedConnection.Create(new NetworkStream(pair.Server, ownsSocket: false), codec);
        return (
            connection,
            async bytes => await pair.Client.SendAsync(bytes),
            async count =>
            {
                var buffer = new byte[count];
                for (int read = 0; read < count;)
                {
                    read += await pair.Client.ReceiveAsync(buffer.AsMemory(read)).AsTask().WaitAsync(s_limit);
                }

                return buffer;
            },
            pair);
    }
}
