using System.Buffers;
using System.IO.Pipelines;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using HeaderFraming.Codecs;
using HeaderFraming.Protocols;
using HeaderFraming.Testing;
using HeaderFraming.Tests.Infrastructure;

namespace HeaderFraming.Tests;

public class MySqlPacketReaderTests
{
    private const int Cases = 300;
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public void ThePresetIsAThreeByteLittleEndianLengthInAFourByteHeaderWithTheSequenceIdAtByteThree()
    {
        byte[] packet = [0x05, 0x00, 0x00, 0x07, 0x03, .. "SELE"u8];
        CodecAssert.Decodes(MySql.Codec, packet, 4, 5);
        Assert.Equal(7UL, MySql.SequenceId.Read(packet));
        Assert.Equal(0xFFFFFF, MySql.Codec.MaxPayloadLength);
        byte[] header = [0, 0, 0, 0x2A];
        MySql.Codec.WriteHeader(0xFFFFFF, header);
        Assert.Equal(new byte[] { 0xFF, 0xFF, 0xFF, 0x2A }, header);
    }

    [Property(MaxTest = Cases)]
    public Property MessagesSplitIntoContinuationPacketsAreReassembledWhateverTheChunkingAndTheSequenceWraps() =>
        Prop.ForAll(Scenarios().ToArbitrary(), s => RunAsync(s).WaitAsync(s_timeout).GetAwaiter().GetResult());

    [Property(MaxTest = Cases)]
    public Property AWrongSequenceIdAnywhereIsReportedAtThatPacketAfterEveryEarlierMessage() =>
        Prop.ForAll(
            (from s in Scenarios()
             where s.Messages.Length > 0
             from pick in Gen.Choose(0, int.MaxValue)
             from delta in Gen.Choose(1, 255)
             select (s, pick, (byte)delta)).ToArbitrary(),
            c => RunCorruptedAsync(c.s, c.pick, c.Item3).WaitAsync(s_timeout).GetAwaiter().GetResult());

    [Fact]
    public async Task ASinglePacketMessageIsThePipesMemoryAndAContinuedOneIsNot()
    {
        byte[] wire = Packets([Generators.Bytes(5, 1), Generators.Bytes(9, 2)], continuation: 4, firstSequenceId: 0);
        var frames = new FrameReader(PipeReader.Create(new ReadOnlySequence<byte>(wire)), MySql.Codec);
        var starts = new List<SequencePosition>();
        async ValueTask<FrameReadResult> Read(CancellationToken token)
        {
            FrameReadResult result = await frames.ReadFrameAsync(token);
            if (result.HasFrame)
            {
                starts.Add(result.Frame.Payload.Start);
            }

            return result;
        }

        using var reader = new MySqlPacketReader(Read, 1000, continuationLength: 4);
        MySqlMessage first = await reader.ReadMessageAsync();
        Assert.Equal(2, first.PacketCount);
        Assert.DoesNotContain(first.Payload.Start, starts);

        // 9 bytes with a continuation of 4: packets of 4, 4, 1.
        MySqlMessage second = await reader.ReadMessageAsync();
        Assert.Equal(3, second.PacketCount);
        Assert.Equal(Generators.Bytes(9, 2), second.Payload.ToArray());

        byte[] single = Packets([Generators.Bytes(3, 3)], continuation: 4, firstSequenceId: 0);
        frames = new FrameReader(PipeReader.Create(new ReadOnlySequence<byte>(single)), MySql.Codec);
        starts.Clear();
        using var singleReader = new MySqlPacketReader(Read, 1000, continuationLength: 4);
        MySqlMessage one = await singleReader.ReadMessageAsync();
        Assert.Equal(1, one.PacketCount);
        Assert.Equal(starts[0], one.Payload.Start);
    }

    [Fact]
    public async Task AFramedConnectionIsReadMessageByMessageAsAFrameReaderIs()
    {
        var (a, b) = DuplexPipe.CreatePair();
        await using FramedConnection connection = FramedConnection.Create(a, MySql.Codec);
        using var reader = new MySqlPacketReader(connection) { ExpectedSequenceId = 1 };
        byte[] ok = [0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00];
        await b.Output.WriteAsync(Packets([ok, [0xFE, 0x00, 0x00]], MySql.MaxPacketPayloadLength, firstSequenceId: 1));
        await b.Output.CompleteAsync();

        MySqlMessage first = await reader.ReadMessageAsync().AsTask().WaitAsync(s_timeout);
        Assert.Equal(ok, first.Payload.ToArray());
        Assert.Equal(1, first.FirstSequenceId);
        Assert.Equal(0xFE, (await reader.ReadMessageAsync()).Payload.FirstSpan[0]);
        Assert.True((await reader.ReadMessageAsync()).IsCompleted);
    }

    [Fact]
    public void NullSourcesAndImpossibleLimitsAreRefused()
    {
        Assert.Throws<ArgumentNullException>("reader", () => new MySqlPacketReader((FrameReader)null!));
        Assert.Throws<ArgumentNullException>("connection", () => new MySqlPacketReader((FramedConnection)null!));
        var frames = new FrameReader(PipeReader.Create(ReadOnlySequence<byte>.Empty), MySql.Codec);
        Assert.Throws<ArgumentOutOfRangeException>(() => new MySqlPacketReader(frames, -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new MySqlPacketReader(frames, (long)int.MaxValue + 1));
    }

    [Fact]
    public async Task AReaderOfAnotherLayoutIsRefusedAtOnceAndAFrameOfAnotherHeaderLengthWhenItComes()
    {
        var kafka = new FrameReader(PipeReader.Create(new ReadOnlySequence<byte>([0, 0, 0, 1, 9])), BinaryLengthCodec.UInt32BigEndian);
        var ex = Assert.Throws<ArgumentException>("reader", () => new MySqlPacketReader(kafka));
        Assert.Contains("use MySql.Codec", ex.Message, StringComparison.Ordinal);
        await using FramedConnection connection = FramedConnection.Create(DuplexPipe.CreatePair().A, VarintCodec.Instance);
        Assert.Throws<ArgumentException>("connection", () => new MySqlPacketReader(connection));

        // The internal constructor (a codec switched under the reader) still checks every frame's header length.
        var varint = new FrameReader(PipeReader.Create(new ReadOnlySequence<byte>([1, 9])), VarintCodec.Instance);
        using var reader = new MySqlPacketReader(varint.ReadFrameAsync, 100, 4);
        var mismatch = await Assert.ThrowsAsync<InvalidOperationException>(() => reader.ReadMessageAsync().AsTask());
        Assert.Contains("1-byte header", mismatch.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AWrongSequenceIdThrowsSayingWhichWasExpectedAndTheFaultIsLatched()
    {
        byte[] wire = [.. Packets([[1, 2]], 4, firstSequenceId: 5), .. Packets([[3]], 4, firstSequenceId: 7)];
        var frames = new FrameReader(PipeReader.Create(new ReadOnlySequence<byte>(wire)), MySql.Codec);
        using var reader = new MySqlPacketReader(frames) { ExpectedSequenceId = 5 };
        MySqlMessage first = await reader.ReadMessageAsync();
        Assert.Equal((5, 5), (first.FirstSequenceId, first.LastSequenceId));
        Assert.Equal(6, reader.ExpectedSequenceId);

        var ex = await Assert.ThrowsAsync<FrameFormatException>(() => reader.ReadMessageAsync().AsTask());
        Assert.StartsWith("sequence id 7, expected 6", ex.Problem, StringComparison.Ordinal);
        Assert.Equal(6, ex.StreamOffset);
        Assert.Equal(new byte[] { 1, 0, 0, 7 }, ex.Header.ToArray());
        Assert.Same(ex, await Assert.ThrowsAsync<FrameFormatException>(() => reader.ReadMessageAsync().AsTask()));
    }

    [Fact]
    public async Task TheCallerResetsTheExpectedSequenceIdPerCommand()
    {
        // Two commands' responses, each starting at 1 (the client's command had id 0).
        byte[] wire = [.. Packets([[1], [2]], 4, firstSequenceId: 1), .. Packets([[3]], 4, firstSequenceId: 1)];
        var frames = new FrameReader(PipeReader.Create(new ReadOnlySequence<byte>(wire)), MySql.Codec);
        using var reader = new MySqlPacketReader(frames) { ExpectedSequenceId = 1 };
        Assert.Equal(1, (await reader.ReadMessageAsync()).FirstSequenceId);
        Assert.Equal(2, (await reader.ReadMessageAsync()).FirstSequenceId);
        reader.ExpectedSequenceId = 1;
        Assert.Equal(new byte[] { 3 }, (await reader.ReadMessageAsync()).Payload.ToArray());
        Assert.True((await reader.ReadMessageAsync()).IsCompleted);
    }

    [Fact]
    public async Task AMessageLongerThanTheMaximumIsRefusedBeforeThePacketThatWouldExceedItIsCopied()
    {
        byte[] wire = Packets([Generators.Bytes(10, 1)], continuation: 4, firstSequenceId: 0);
        var frames = new FrameReader(PipeReader.Create(new ReadOnlySequence<byte>(wire)), MySql.Codec);
        using var reader = new MySqlPacketReader(frames.ReadFrameAsync, maxMessageLength: 9, continuationLength: 4);
        var ex = await Assert.ThrowsAsync<FrameTooLargeException>(() => reader.ReadMessageAsync().AsTask());
        Assert.Equal(10, ex.DeclaredLength);
        Assert.Equal(9, ex.MaxFrameLength);
        Assert.Contains("MaxMessageLength", ex.Problem, StringComparison.Ordinal);
        Assert.Equal(16, ex.StreamOffset); // the third packet
    }

    [Fact]
    public async Task AStreamThatEndsInsideAContinuedMessageIsTruncatedAndOneThatEndsBetweenMessagesIsCompleted()
    {
        byte[] wire = Packets([Generators.Bytes(8, 1)], continuation: 4, firstSequenceId: 0);
        var frames = new FrameReader(PipeReader.Create(new ReadOnlySequence<byte>(wire[..^4])), MySql.Codec);
        using var reader = new MySqlPacketReader(frames.ReadFrameAsync, 100, continuationLength: 4);
        var ex = await Assert.ThrowsAsync<FrameTruncatedException>(() => reader.ReadMessageAsync().AsTask());
        Assert.Contains("2 continued packets (8 bytes of payload) were received", ex.Problem, StringComparison.Ordinal);
        Assert.Equal(0, ex.StreamOffset);

        frames = new FrameReader(PipeReader.Create(new ReadOnlySequence<byte>(wire)), MySql.Codec);
        using var whole = new MySqlPacketReader(frames.ReadFrameAsync, 100, continuationLength: 4);
        Assert.True((await whole.ReadMessageAsync()).HasMessage);
        Assert.True((await whole.ReadMessageAsync()).IsCompleted);
    }

    [Fact]
    public async Task ACancelledReadKeepsTheFirstPacketsOfAMessageAndTheNextReadFinishesIt()
    {
        var pipe = new Pipe();
        var frames = new FrameReader(pipe.Reader, MySql.Codec);
        using var reader = new MySqlPacketReader(frames.ReadFrameAsync, 100, continuationLength: 4);
        byte[] wire = Packets([[1, 2, 3, 4, 5, 6]], continuation: 4, firstSequenceId: 0);
        await pipe.Writer.WriteAsync(wire.AsMemory(0, 8));
        ValueTask<MySqlMessage> pending = reader.ReadMessageAsync();
        Assert.False(pending.IsCompleted);
        frames.CancelPendingRead();
        Assert.True((await pending.AsTask().WaitAsync(s_timeout)).IsCanceled);

        await pipe.Writer.WriteAsync(wire.AsMemory(8));
        MySqlMessage message = await reader.ReadMessageAsync().AsTask().WaitAsync(s_timeout);
        Assert.Equal(new byte[] { 1, 2, 3, 4, 5, 6 }, message.Payload.ToArray());
        Assert.Equal(2, message.PacketCount);
    }

    [Fact]
    public async Task RealSixteenMebibyteMessagesAreJoinedIncludingOneOfExactlyTheContinuationLength()
    {
        byte[] exact = Generators.Bytes(MySql.MaxPacketPayloadLength, 11);
        byte[] longer = Generators.Bytes(MySql.MaxPacketPayloadLength + 3, 12);
        byte[] wire = Packets([exact, longer, [9]], MySql.MaxPacketPayloadLength, firstSequenceId: 0);
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 0));
        Task writer = Task.Run(async () =>
        {
            for (int offset = 0; offset < wire.Length; offset += 1 << 20)
            {
                await pipe.Writer.WriteAsync(wire.AsMemory(offset, Math.Min(1 << 20, wire.Length - offset)));
            }

            await pipe.Writer.CompleteAsync();
        });
        var frames = new FrameReader(pipe.Reader, MySql.Codec, new FrameReaderOptions { MaxFrameLength = MySql.MaxPacketPayloadLength });
        using var reader = new MySqlPacketReader(frames);

        MySqlMessage first = await reader.ReadMessageAsync();
        Assert.Equal((2, 0, 1), (first.PacketCount, (int)first.FirstSequenceId, (int)first.LastSequenceId));
        Assert.True(first.Payload.ToArray().AsSpan().SequenceEqual(exact));
        MySqlMessage second = await reader.ReadMessageAsync();
        Assert.Equal(2, second.PacketCount);
        Assert.True(second.Payload.ToArray().AsSpan().SequenceEqual(longer));
        MySqlMessage third = await reader.ReadMessageAsync();
        Assert.Equal((1, 4), (third.PacketCount, (int)third.FirstSequenceId));
        Assert.True((await reader.ReadMessageAsync()).IsCompleted);
        await writer.WaitAsync(s_timeout);
    }

    private static async Task RunAsync(Scenario s)
    {
        byte[] wire = Packets(s.Messages, s.Continuation, s.FirstSequenceId);
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 4096, resumeWriterThreshold: 2048, minimumSegmentSize: 256));
        Task writer = Task.Run(async () =>
        {
            int offset = 0;
            int i = 0;
            while (offset < wire.Length)
            {
                int size = Math.Min(wire.Length - offset, s.Chunks.Length == 0 ? wire.Length : Math.Max(1, s.Chunks[i++ % s.Chunks.Length]));
                await pipe.Writer.WriteAsync(wire.AsMemory(offset, size));
                offset += size;
            }

            await pipe.Writer.CompleteAsync();
        });

        var frames = new FrameReader(pipe.Reader, MySql.Codec);
        using var reader = new MySqlPacketReader(frames.ReadFrameAsync, 100_000, s.Continuation) { ExpectedSequenceId = s.FirstSequenceId };
        byte expectedId = s.FirstSequenceId;
        foreach (byte[] expected in s.Messages)
        {
            MySqlMessage message = await reader.ReadMessageAsync();
            Assert.True(message.HasMessage);
            Assert.Equal(expected, message.Payload.ToArray());
            int packets = (expected.Length / s.Continuation) + 1;
            Assert.Equal(packets, message.PacketCount);
            Assert.Equal(expectedId, message.FirstSequenceId);
            expectedId = unchecked((byte)(expectedId + packets));
            Assert.Equal(unchecked((byte)(expectedId - 1)), message.LastSequenceId);
            Assert.Equal(expectedId, reader.ExpectedSequenceId);
        }

        Assert.True((await reader.ReadMessageAsync()).IsCompleted);
        await writer;
    }

    private static async Task RunCorruptedAsync(Scenario s, int pick, byte delta)
    {
        byte[] wire = Packets(s.Messages, s.Continuation, s.FirstSequenceId);

        // Where each packet starts and which message it belongs to.
        var packets = new List<(int Offset, int Message)>();
        for (int m = 0, offset = 0; m < s.Messages.Length; m++)
        {
            while (true)
            {
                int length = wire[offset] | (wire[offset + 1] << 8) | (wire[offset + 2] << 16);
                packets.Add((offset, m));
                offset += 4 + length;
                if (length < s.Continuation)
                {
                    break;
                }
            }
        }

        (int bad, int badMessage) = packets[pick % packets.Count];
        byte expectedId = wire[bad + 3];
        byte actualId = unchecked((byte)(expectedId + delta));
        wire[bad + 3] = actualId;

        var frames = new FrameReader(new ChunkedPipeReader(new ReadOnlySequence<byte>(wire), s.Chunks.Length == 0 ? [wire.Length] : s.Chunks), MySql.Codec);
        using var reader = new MySqlPacketReader(frames.ReadFrameAsync, 100_000, s.Continuation) { ExpectedSequenceId = s.FirstSequenceId };
        for (int m = 0; m < badMessage; m++)
        {
            Assert.Equal(s.Messages[m], (await reader.ReadMessageAsync()).Payload.ToArray());
        }

        var ex = await Assert.ThrowsAsync<FrameFormatException>(() => reader.ReadMessageAsync().AsTask());
        Assert.StartsWith($"sequence id {actualId}, expected {expectedId} ", ex.Problem, StringComparison.Ordinal);
        Assert.Equal(bad, ex.StreamOffset);
        Assert.Same(ex, await Assert.ThrowsAsync<FrameFormatException>(() => reader.ReadMessageAsync().AsTask()));
    }

    /// <summary>MySQL packets for <paramref name="messages"/>: payloads of <paramref name="continuation"/> bytes continue,
    /// a shorter (possibly empty) packet ends a message; sequence ids count up from <paramref name="firstSequenceId"/>.</summary>
    private static byte[] Packets(IEnumerable<byte[]> messages, int continuation, byte firstSequenceId)
    {
        var output = new MemoryStream();
        byte id = firstSequenceId;
        foreach (byte[] message in messages)
        {
            int offset = 0;
            while (true)
            {
                int length = Math.Min(continuation, message.Length - offset);
                output.Write([(byte)length, (byte)(length >> 8), (byte)(length >> 16), id++]);
                output.Write(message, offset, length);
                offset += length;
                if (length < continuation)
                {
                    break;
                }
            }
        }

        return output.ToArray();
    }

    public sealed record Scenario(int Continuation, byte FirstSequenceId, byte[][] Messages, int[] Chunks)
    {
        public override string ToString()
            => $"continuation {Continuation}; first id {FirstSequenceId}; messages [{string.Join(",", Messages.Select(m => m.Length))}]; chunks [{string.Join(",", Chunks)}]";
    }

    private static Gen<Scenario> Scenarios() =>
        from continuation in Gen.Frequency((3, Gen.Choose(1, 8)), (1, Gen.Choose(9, 300)))
        from firstId in Gen.Choose(0, 255)
        from lengths in Gen.Frequency(
                (3, Gen.Choose(0, 3 * continuation)),
                (2, Gen.Choose(0, 4).Select(k => k * continuation)), // exactly a multiple: an empty final packet
                (1, Gen.Choose(0, 3000)))
            .ArrayOf()
            .Select(a => a.Take(40).ToArray())
        from seed in Gen.Choose(0, int.MaxValue)
        from chunks in Gen.Frequency((2, Gen.Choose(1, 5)), (2, Gen.Choose(1, 700))).ArrayOf()
        select new Scenario(continuation, (byte)firstId, lengths.Select((l, i) => Generators.Bytes(l, seed + i)).ToArray(), chunks);
}
