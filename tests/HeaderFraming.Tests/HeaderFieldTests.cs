using System.Buffers;
using System.IO.Pipelines;
using System.Numerics;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using HeaderFraming.Codecs;
using HeaderFraming.Protocols;
using HeaderFraming.Testing;
using HeaderFraming.Tests.Infrastructure;

namespace HeaderFraming.Tests;

public class HeaderFieldTests
{
    private const int Cases = 1000;

    [Fact]
    public void Http2FieldsReadTypeFlagsAndAStreamIdWithoutTheReservedBit()
    {
        // A HEADERS frame (type 1) with END_HEADERS (0x4) on stream 0x01020304, the reserved bit set by a sloppy peer.
        byte[] header = [0x00, 0x00, 0x0C, 0x01, 0x04, 0x81, 0x02, 0x03, 0x04];
        Assert.Equal(1UL, Http2.Type.Read(header));
        Assert.Equal(4UL, Http2.Flags.Read(header));
        Assert.Equal(0x01020304UL, Http2.StreamId.Read(header));
        Assert.Equal(1UL, Http2.Reserved.Read(header));
        CodecAssert.Decodes(Http2.Codec, header, 9, 12);
    }

    [Fact]
    public void WritingAStreamIdKeepsTheReservedBitAndWritingTheBitKeepsTheId()
    {
        byte[] header = new byte[9];
        Http2.Reserved.Write(header, 1);
        Http2.StreamId.Write(header, 0x7FFF_FFFF);
        Assert.Equal(new byte[] { 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF }, header);
        Http2.Reserved.Write(header, 0);
        Assert.Equal(0x7FFF_FFFFUL, Http2.StreamId.Read(header));
        Assert.Equal(0x7F, header[5]);
        Http2.Codec.WriteHeader(16_384, header);
        Assert.Equal(new byte[] { 0x00, 0x40, 0x00 }, header[..3]);
        Assert.Equal(0x7FFF_FFFFUL, Http2.StreamId.Read(header));
    }

    [Fact]
    public void MqttNibblesShareTheControlByte()
    {
        byte[] header = [0x3B, 0x00];
        Assert.Equal(3UL, Mqtt.PacketType.Read(header));
        Assert.Equal(0xBUL, Mqtt.Flags.Read(header));
        Mqtt.PacketType.Write(header, 12);
        Assert.Equal(0xCB, header[0]);
        Mqtt.Flags.Write(header, 0);
        Assert.Equal(0xC0, header[0]);
        Assert.Equal(15UL, Mqtt.PacketType.MaxValue);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => Mqtt.PacketType.Write(header, 16));
        Assert.Contains("at most 15", ex.Message, StringComparison.Ordinal);
        Assert.Equal(0xC0, header[0]);
    }

    [Fact]
    public void ALittleEndianFieldReadsItsBytesLowFirst()
    {
        var field = new HeaderField(1, 3, Endianness.LittleEndian);
        Assert.Equal(0x030201UL, field.Read([0xAA, 0x01, 0x02, 0x03, 0xBB]));
        Assert.Equal(0xFFFFFFUL, field.MaxValue);
    }

    [Theory]
    [InlineData(1, 0x0UL)]
    [InlineData(1, 0x100UL)]
    [InlineData(1, 0x5UL)]
    [InlineData(2, 0x8001UL)]
    public void MasksThatAreEmptyWiderThanTheFieldOrNotOneRunAreRefused(int width, ulong mask)
        => Assert.Throws<ArgumentOutOfRangeException>(() => new HeaderField(0, width, Endianness.BigEndian, mask));

    [Theory]
    [InlineData(-1, 1)]
    [InlineData(65_535, 1)]
    [InlineData(0, 0)]
    [InlineData(0, 9)]
    public void ImpossibleFieldsAreRefused(int offset, int width)
        => Assert.Throws<ArgumentOutOfRangeException>(() => new HeaderField(offset, width));

    [Fact]
    public void AHeaderTooShortForTheFieldIsAClearArgumentErrorNotAnIndexError()
    {
        var ex = Assert.Throws<ArgumentException>(() => Http2.StreamId.Read(new byte[8]));
        Assert.Contains("The header has 8 bytes", ex.Message, StringComparison.Ordinal);
        Assert.Contains("needs 9", ex.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => Http2.StreamId.Write(new byte[8], 1));
        Assert.Throws<ArgumentException>(() => Http2.StreamId.Read(SegmentedSequence.OneByteSegments(new byte[8])));
        Assert.Throws<InvalidOperationException>(() => default(HeaderField).Read(new byte[8]));
    }

    [Fact]
    public void FieldsAreEqualWhenTheyDescribeTheSameBits()
    {
        Assert.Equal(new HeaderField(3, 1), Http2.Type);
        Assert.True(new HeaderField(0, 1, mask: 0xF0) == Mqtt.PacketType);
        Assert.True(Mqtt.PacketType != Mqtt.Flags);
        Assert.Equal("4-byte big-endian field at offset 5, mask 0x7FFFFFFF", Http2.StreamId.ToString());
    }

    [Fact]
    public async Task FrameReadFindsAFieldWhetherTheFrameIsContiguousOrSplit()
    {
        byte[] wire = [0x00, 0x00, 0x02, 0x08, 0x00, 0x00, 0x00, 0x00, 0x05, 0x00, 0x10];
        foreach (ReadOnlySequence<byte> input in new[] { new ReadOnlySequence<byte>(wire), SegmentedSequence.OneByteSegments(wire) })
        {
            var reader = new FrameReader(new ChunkedPipeReader(input, [wire.Length]), Http2.Codec);
            FrameReadResult result = await reader.ReadFrameAsync();
            Assert.True(result.HasFrame);
            Assert.Equal(8UL, result.Frame.Read(Http2.Type));
            Assert.Equal(5UL, result.Frame.Read(Http2.StreamId));
        }
    }

    [Property(MaxTest = Cases)]
    public Property WriteThenReadGivesTheValueAndChangesNoOtherBit() =>
        Prop.ForAll(FieldCases().ToArbitrary(), c =>
        {
            (HeaderField field, byte[] header, ulong value) = c;
            byte[] before = (byte[])header.Clone();
            field.Write(header, value);
            Assert.Equal(value, field.Read(header));
            Assert.Equal(value, field.Read(SegmentedSequence.OneByteSegments(header)));
            Assert.Equal(value, Oracle(field, header));

            // Outside the masked bits, nothing moved.
            for (int i = 0; i < header.Length; i++)
            {
                byte keep = (byte)~MaskByte(field, i);
                Assert.Equal(before[i] & keep, header[i] & keep);
            }
        });

    [Property(MaxTest = Cases)]
    public Property ReadAgreesWithAnIndependentDecoderOnAnyBytes() =>
        Prop.ForAll(FieldCases().ToArbitrary(), c => Assert.Equal(Oracle(c.Field, c.Header), c.Field.Read(c.Header)));

    [Property(MaxTest = Cases)]
    public Property AValueAboveTheFieldsMaximumIsRefusedAndTheHeaderIsUntouched() =>
        Prop.ForAll(FieldCases().Where(c => c.Field.MaxValue < ulong.MaxValue).ToArbitrary(), c =>
        {
            byte[] before = (byte[])c.Header.Clone();
            ulong tooLarge = c.Field.MaxValue + 1 + (c.Value % 1000);
            Assert.Throws<ArgumentOutOfRangeException>(() => c.Field.Write(c.Header, tooLarge));
            Assert.Equal(before, c.Header);
        });

    /// <summary>The field's value by another route: BigInteger over the field's bytes, then the mask.</summary>
    private static ulong Oracle(HeaderField field, byte[] header)
    {
        var integer = new BigInteger(header.AsSpan(field.Offset, field.Width), isUnsigned: true, isBigEndian: field.Endianness == Endianness.BigEndian);
        ulong raw = (ulong)integer & field.Mask;
        return raw >> BitOperations.TrailingZeroCount(field.Mask);
    }

    /// <summary>The mask's bits that fall in header byte <paramref name="index"/>.</summary>
    private static byte MaskByte(HeaderField field, int index)
    {
        if (index < field.Offset || index >= field.End)
        {
            return 0;
        }

        int i = index - field.Offset;
        int shift = field.Endianness == Endianness.BigEndian ? 8 * (field.Width - 1 - i) : 8 * i;
        return (byte)(field.Mask >> shift);
    }

    private static Gen<(HeaderField Field, byte[] Header, ulong Value)> FieldCases() =>
        from offset in Gen.Choose(0, 10)
        from width in Gen.Choose(1, 8)
        from endianness in Gen.Elements(Endianness.BigEndian, Endianness.LittleEndian)
        from low in Gen.Choose(0, (8 * width) - 1)
        from bits in Gen.Choose(1, (8 * width) - low)
        from masked in Gen.Elements(true, false)
        let run = bits == 64 ? ulong.MaxValue : (1UL << bits) - 1
        let field = masked ? new HeaderField(offset, width, endianness, run << low) : new HeaderField(offset, width, endianness)
        from extra in Gen.Choose(0, 4)
        from seed in Gen.Choose(0, int.MaxValue)
        let value = (ulong)new Random(seed).NextInt64() ^ ((ulong)new Random(seed + 1).NextInt64() << 1)
        select (field, Generators.Bytes(field.End + extra, seed), value & field.MaxValue);
}
