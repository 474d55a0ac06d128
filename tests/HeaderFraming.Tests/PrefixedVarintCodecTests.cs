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

public class PrefixedVarintCodecTests
{
    private const int Cases = 1000;

    // MQTT 3.1.1 Table 2.4: the smallest and largest remaining length of each encoded size.
    [Theory]
    [InlineData(0L, new byte[] { 0x00 })]
    [InlineData(127L, new byte[] { 0x7F })]
    [InlineData(128L, new byte[] { 0x80, 0x01 })]
    [InlineData(321L, new byte[] { 0xC1, 0x02 })]
    [InlineData(16_383L, new byte[] { 0xFF, 0x7F })]
    [InlineData(16_384L, new byte[] { 0x80, 0x80, 0x01 })]
    [InlineData(2_097_151L, new byte[] { 0xFF, 0xFF, 0x7F })]
    [InlineData(2_097_152L, new byte[] { 0x80, 0x80, 0x80, 0x01 })]
    [InlineData(268_435_455L, new byte[] { 0xFF, 0xFF, 0xFF, 0x7F })]
    public void MqttRemainingLengthsOfTheSpecificationRoundTripAfterTheControlByte(long value, byte[] varint)
    {
        byte[] wire = [0x30, .. varint, 0xAB, 0xCD];
        CodecAssert.Decodes(Mqtt.Codec, wire, 1 + varint.Length, value);

        Assert.Equal(1 + varint.Length, Mqtt.Codec.GetHeaderLength(value));
        byte[] header = new byte[Mqtt.Codec.MaxHeaderLength];
        header[0] = 0x30;
        Assert.Equal(1 + varint.Length, Mqtt.Codec.WriteHeader(value, header));
        Assert.Equal(wire[..(1 + varint.Length)], header[..(1 + varint.Length)]);
    }

    [Fact]
    public void MqttPresetDescribesTheFixedHeader()
    {
        IFrameCodec codec = Mqtt.Codec;
        Assert.Equal(1, Mqtt.Codec.PrefixLength);
        Assert.IsAssignableFrom<IHeaderPrefixCodec>(codec);
        Assert.False(codec is ILengthFieldCodec);
        Assert.False(codec.IsFixedWidth);
        Assert.Equal(5, codec.MaxHeaderLength);
        Assert.Equal(268_435_455, codec.MaxPayloadLength);
        Assert.Equal(Mqtt.MaxRemainingLength, codec.MaxPayloadLength);
    }

    [Fact]
    public void AFifthRemainingLengthByteIsMalformedAndTheErrorNamesTheByte()
    {
        byte[] wire = [0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01];
        Assert.Equal(OperationStatus.NeedMoreData, Mqtt.Codec.DecodeHeader(wire.AsSpan(0, 4), out _, out _));
        FrameFormatException ex = CodecAssert.InvalidWholeAndSplit(Mqtt.Codec, wire[..5]);
        Assert.Contains("longer than 4 bytes", ex.Problem, StringComparison.Ordinal);
        Assert.Contains("byte 4 of the header", ex.Problem, StringComparison.Ordinal);
        Assert.Contains("0xFF", ex.Problem, StringComparison.Ordinal);
        Assert.Equal(wire[..5], ex.Header.ToArray());
        CodecAssert.InvalidWholeAndSplit(Mqtt.Codec, wire);
    }

    [Theory]
    [InlineData(new byte[] { 0x30, 0x80, 0x00 }, 2)]
    [InlineData(new byte[] { 0x30, 0xC1, 0x82, 0x00 }, 3)]
    [InlineData(new byte[] { 0x30, 0x80, 0x80, 0x80, 0x00 }, 4)]
    public void OverLongRemainingLengthsAreRejectedByDefault(byte[] wire, int badByte)
    {
        FrameFormatException ex = CodecAssert.InvalidWholeAndSplit(Mqtt.Codec, wire);
        Assert.Contains("over-long", ex.Problem, StringComparison.Ordinal);
        Assert.Contains($"byte {badByte} of the header", ex.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void OverLongRemainingLengthsAreAcceptedWhenAskedFor()
    {
        var lenient = new PrefixedVarintCodec(1, 4, acceptsOverlongEncodings: true);
        CodecAssert.Decodes(lenient, [0x30, 0x80, 0x00], 3, 0);
        CodecAssert.Decodes(lenient, [0x30, 0xC1, 0x82, 0x00], 4, 321);
        CodecAssert.InvalidWholeAndSplit(lenient, [0x30, 0x80, 0x80, 0x80, 0x80]);

        // The writer always writes the shortest form.
        byte[] header = new byte[5];
        Assert.Equal(3, lenient.WriteHeader(321, header));
    }

    [Fact]
    public void WritingLeavesThePrefixAndRefusesLengthsThatDoNotFit()
    {
        byte[] header = [0x82, 0xEE, 0xEE, 0xEE, 0xEE, 0xEE];
        Assert.Equal(2, Mqtt.Codec.WriteHeader(5, header));
        Assert.Equal(new byte[] { 0x82, 0x05, 0xEE, 0xEE, 0xEE, 0xEE }, header);

        Assert.Throws<ArgumentOutOfRangeException>(() => Mqtt.Codec.WriteHeader(268_435_456, new byte[5]));
        Assert.Throws<ArgumentOutOfRangeException>(() => Mqtt.Codec.GetHeaderLength(268_435_456));
        Assert.Throws<ArgumentOutOfRangeException>(() => Mqtt.Codec.WriteHeader(-1, new byte[5]));
        Assert.Throws<ArgumentException>(() => Mqtt.Codec.WriteHeader(128, new byte[2]));
    }

    [Theory]
    [InlineData(-1, 4)]
    [InlineData(65_536, 4)]
    [InlineData(1, 0)]
    [InlineData(1, 10)]
    public void ImpossibleLayoutsAreRefused(int prefixLength, int maxVarintLength)
        => Assert.Throws<ArgumentOutOfRangeException>(() => new PrefixedVarintCodec(prefixLength, maxVarintLength));

    [Fact]
    public async Task AFrameReaderReadsMqttPacketsFedAByteAtATime()
    {
        byte[] big = Generators.Bytes(300, 7);
        byte[] wire = [0x20, 0x02, 0x00, 0x00, 0x30, 0xAC, 0x02, .. big, 0xD0, 0x00];
        var reader = new FrameReader(new ChunkedPipeReader(SegmentedSequence.OneByteSegments(wire), [1]), Mqtt.Codec);
        var packets = new List<(ulong Type, byte[] Payload)>();
        while (true)
        {
            FrameReadResult result = await reader.ReadFrameAsync();
            if (result.IsCompleted)
            {
                break;
            }

            packets.Add((result.Frame.Read(Mqtt.PacketType), result.Frame.Payload.ToArray()));
        }

        Assert.Equal(3, packets.Count);
        Assert.Equal(2UL, packets[0].Type);
        Assert.Equal(new byte[] { 0, 0 }, packets[0].Payload);
        Assert.Equal(3UL, packets[1].Type);
        Assert.Equal(big, packets[1].Payload);
        Assert.Equal(13UL, packets[2].Type);
        Assert.Empty(packets[2].Payload);
    }

    [Property(MaxTest = 300)]
    public Property MqttPacketsWrittenToARealPipeInRandomChunksAreReadBackWithTheirControlBytes() =>
        Prop.ForAll(
            (from packets in (from control in Gen.Choose(0x10, 0xFF)
                              from length in Gen.Frequency((4, Gen.Choose(0, 127)), (3, Gen.Choose(128, 16_383)), (1, Gen.Choose(16_384, 70_000)))
                              from seed in Gen.Choose(0, int.MaxValue)
                              select ((byte)control, Generators.Bytes(length, seed))).ArrayOf().Select(a => a.Take(20).ToArray())
             from chunks in Gen.Frequency((1, Gen.Choose(1, 3)), (2, Gen.Choose(1, 5000))).ArrayOf()
             select (packets, chunks)).ToArbitrary(),
            c => ReadBackAsync(c.packets, c.chunks).WaitAsync(TimeSpan.FromSeconds(30)).GetAwaiter().GetResult());

    [Property(MaxTest = Cases)]
    public Property AnyLengthWrittenAfterAnyPrefixDecodesWholeAndSplitAndEveryPrefixNeedsMore() =>
        Prop.ForAll(WrittenHeaders().ToArbitrary(), c =>
        {
            (PrefixedVarintCodec codec, byte[] prefix, long value, byte[] after) = c;
            byte[] header = new byte[codec.MaxHeaderLength];
            prefix.CopyTo(header, 0);
            int written = codec.WriteHeader(value, header);
            Assert.Equal(codec.GetHeaderLength(value), written);
            Assert.Equal(prefix, header[..prefix.Length]);
            CodecAssert.Decodes(codec, [.. header[..written], .. after], written, value);
        });

    [Property(MaxTest = Cases)]
    public Property WithNoPrefixAndNineBytesItDecodesExactlyAsVarintCodecWhateverTheBytes() =>
        Prop.ForAll(VarintishBytes().ToArbitrary(), bytes =>
        {
            var codec = new PrefixedVarintCodec(0, 9);
            OperationStatus expected = VarintCodec.Instance.DecodeHeader(bytes, out int h0, out long p0);
            OperationStatus actual = codec.DecodeHeader(bytes, out int h1, out long p1);
            Assert.Equal((expected, h0, p0), (actual, h1, p1));
        });

    [Property(MaxTest = Cases)]
    public Property AfterAPrefixItDecodesAsVarintCodecDoesWithinItsByteLimit() =>
        Prop.ForAll(
            (from prefix in Gen.Choose(0, 4)
             from max in Gen.Choose(1, 9)
             from bytes in VarintishBytes()
             from seed in Gen.Choose(0, int.MaxValue)
             select (prefix, max, bytes, seed)).ToArbitrary(),
            c =>
            {
                var codec = new PrefixedVarintCodec(c.prefix, c.max);
                byte[] wire = [.. Generators.Bytes(c.prefix, c.seed), .. c.bytes];
                OperationStatus status = codec.DecodeHeader(wire, out int h, out long p);
                int end = Array.FindIndex(c.bytes, b => b < 0x80);
                if (end >= 0 && end < c.max && (c.bytes[end] != 0 || end == 0))
                {
                    Assert.Equal(OperationStatus.Done, VarintCodec.Instance.DecodeHeader(c.bytes, out int oh, out long op));
                    Assert.Equal((OperationStatus.Done, c.prefix + oh, op), (status, h, p));
                }
                else if (end >= 0 && end < c.max)
                {
                    Assert.Equal(OperationStatus.InvalidData, status);
                    Assert.Contains("over-long", codec.CreateHeaderException(wire).Problem, StringComparison.Ordinal);
                }
                else if (c.bytes.Length >= c.max)
                {
                    Assert.Equal(OperationStatus.InvalidData, status);
                    Assert.Contains($"longer than {c.max} bytes", codec.CreateHeaderException(wire).Problem, StringComparison.Ordinal);
                }
                else
                {
                    Assert.Equal(OperationStatus.NeedMoreData, status);
                }

                if (status == OperationStatus.InvalidData)
                {
                    Assert.Equal(codec.CreateHeaderException(wire).Problem, codec.CreateHeaderException(SegmentedSequence.OneByteSegments(wire)).Problem);
                }
            });

    private static async Task ReadBackAsync((byte Control, byte[] Payload)[] packets, int[] chunks)
    {
        // Encoded as a writer with prefix support would: the control byte, then the codec's varint after it.
        var wire = new List<byte>();
        foreach ((byte control, byte[] payload) in packets)
        {
            byte[] header = new byte[Mqtt.Codec.MaxHeaderLength];
            header[0] = control;
            wire.AddRange(header[..Mqtt.Codec.WriteHeader(payload.Length, header)]);
            wire.AddRange(payload);
        }

        byte[] bytes = wire.ToArray();
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 64 * 1024, resumeWriterThreshold: 32 * 1024, minimumSegmentSize: 512));
        Task writer = Task.Run(async () =>
        {
            int offset = 0;
            int i = 0;
            while (offset < bytes.Length)
            {
                int size = Math.Min(bytes.Length - offset, chunks.Length == 0 ? bytes.Length : Math.Max(1, chunks[i++ % chunks.Length]));
                await pipe.Writer.WriteAsync(bytes.AsMemory(offset, size));
                offset += size;
            }

            await pipe.Writer.CompleteAsync();
        });

        var reader = new FrameReader(pipe.Reader, Mqtt.Codec);
        foreach ((byte control, byte[] payload) in packets)
        {
            FrameReadResult result = await reader.ReadFrameAsync();
            Assert.True(result.HasFrame);
            Assert.Equal((ulong)(control >> 4), result.Frame.Read(Mqtt.PacketType));
            Assert.Equal((ulong)(control & 0xF), result.Frame.Read(Mqtt.Flags));
            Assert.Equal(payload, result.Frame.Payload.ToArray());
        }

        Assert.True((await reader.ReadFrameAsync()).IsCompleted);
        await writer;
    }

    private static Gen<(PrefixedVarintCodec Codec, byte[] Prefix, long Value, byte[] After)> WrittenHeaders() =>
        from prefixLength in Gen.Frequency((3, Gen.Constant(1)), (2, Gen.Choose(0, 6)))
        from max in Gen.Frequency((3, Gen.Constant(4)), (2, Gen.Choose(1, 9)))
        from overlong in Gen.Elements(false, true)
        let codec = new PrefixedVarintCodec(prefixLength, max, overlong)
        from bits in Gen.Choose(0, Math.Min(63, 7 * max))
        from seed in Gen.Choose(0, int.MaxValue)
        let value = bits == 0 ? 0 : new Random(seed).NextInt64() & (long)((1UL << bits) - 1)
        from after in Gen.Choose(0, 3)
        select (codec, Generators.Bytes(prefixLength, seed ^ 0x5A5A), Math.Min(value, codec.MaxPayloadLength), Generators.Bytes(after, seed));

    /// <summary>Bytes mostly with the continuation bit set, so that long, over-long and endless varints all occur.</summary>
    private static Gen<byte[]> VarintishBytes() =>
        Gen.Frequency(
            (4, Gen.Choose(0x80, 0xFF)),
            (1, Gen.Choose(0x01, 0x7F)),
            (1, Gen.Constant(0)))
        .Select(b => (byte)b)
        .ArrayOf()
        .Select(a => a.Take(12).ToArray());
}
