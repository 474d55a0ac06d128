using System.Buffers;
using HeaderFraming.Codecs;
using HeaderFraming.Testing;
using HeaderFraming.Tests.Infrastructure;

namespace HeaderFraming.Tests;

public class BinaryLengthCodecTests
{
    [Fact]
    public void FourByteBigEndianPrefixDecodes()
    {
        byte[] wire = [0x00, 0x00, 0x01, 0x02, 0xAA];
        Assert.Equal(OperationStatus.Done, BinaryLengthCodec.UInt32BigEndian.DecodeHeader(wire, out int h, out long p));
        Assert.Equal(4, h);
        Assert.Equal(0x0102, p);
    }

    [Fact]
    public void FourByteLittleEndianPrefixDecodes()
    {
        byte[] wire = [0x02, 0x01, 0x00, 0x00];
        Assert.Equal(OperationStatus.Done, BinaryLengthCodec.UInt32LittleEndian.DecodeHeader(wire, out _, out long p));
        Assert.Equal(0x0102, p);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(5)]
    [InlineData(7)]
    [InlineData(8)]
    public void EveryWidthReadsWhatAnIndependentEncoderWrote(int width)
    {
        foreach (Endianness endianness in new[] { Endianness.BigEndian, Endianness.LittleEndian })
        {
            var codec = new BinaryLengthCodec(width, endianness, fieldOffset: 1, headerLength: width + 3);
            long value = width == 8 ? 0x0102030405060708 : (long)((1UL << (8 * width)) - 3);
            var header = new byte[width + 3];
            for (int i = 0; i < width; i++)
            {
                int shift = endianness == Endianness.BigEndian ? 8 * (width - 1 - i) : 8 * i;
                header[1 + i] = (byte)(value >> shift);
            }

            Assert.Equal(OperationStatus.Done, codec.DecodeHeader(header, out int h, out long p));
            Assert.Equal(width + 3, h);
            Assert.Equal(value, p);

            var written = new byte[width + 3];
            codec.WriteHeader(value, written);
            Assert.Equal(header, written);
        }
    }

    [Fact]
    public void MemcachedHeaderKeepsItsOtherBytesAndReadsTheBodyLengthAtOffsetEight()
    {
        var codec = new BinaryLengthCodec(4, Endianness.BigEndian, fieldOffset: 8, headerLength: 24);
        byte[] header = new byte[24];
        header[0] = 0x81; // response magic
        header[1] = 0x00; // GET
        header[11] = 10;  // body length 10
        Assert.Equal(OperationStatus.Done, codec.DecodeHeader(header, out int h, out long p));
        Assert.Equal(24, h);
        Assert.Equal(10, p);
    }

    [Fact]
    public void PostgresStyleLengthCountingItselfIsAdjusted()
    {
        var codec = new BinaryLengthCodec(4, Endianness.BigEndian, fieldOffset: 1, headerLength: 5, lengthAdjustment: -4);
        byte[] message = [(byte)'Q', 0, 0, 0, 13, .. "SELECT 1;"u8];
        Assert.Equal(OperationStatus.Done, codec.DecodeHeader(message, out int h, out long p));
        Assert.Equal(5, h);
        Assert.Equal(9, p);
        var header = new byte[5];
        header[0] = (byte)'Q';
        codec.WriteHeader(9, header);
        Assert.Equal(message[..5], header);
    }

    [Fact]
    public void LengthIncludingTheHeaderSubtractsIt()
    {
        var codec = new BinaryLengthCodec(2, Endianness.BigEndian, lengthIncludesHeader: true);
        Assert.Equal(OperationStatus.Done, codec.DecodeHeader(new byte[] { 0, 7 }, out _, out long p));
        Assert.Equal(5, p);
        var ex = CodecAssert.Invalid(codec, new byte[] { 0, 1 });
        Assert.Contains("-1", ex.Message, StringComparison.Ordinal);
        Assert.Equal(65535 - 2, codec.MaxPayloadLength);
    }

    [Fact]
    public void AnEightByteLengthAboveLongMaxIsMalformed()
    {
        var codec = new BinaryLengthCodec(8);
        var ex = CodecAssert.Invalid(codec, new byte[] { 0x80, 0, 0, 0, 0, 0, 0, 0 });
        Assert.Contains("overflows", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void APositiveAdjustmentThatOverflowsIsMalformed()
    {
        var codec = new BinaryLengthCodec(8, lengthAdjustment: 10);
        CodecAssert.Invalid(codec, new byte[] { 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFA });
    }

    [Fact]
    public void TwoByteFieldRefusesPayloadsOverSixtyFourKiB()
    {
        var header = new byte[2];
        Assert.Equal(65535, BinaryLengthCodec.UInt16BigEndian.MaxPayloadLength);
        BinaryLengthCodec.UInt16BigEndian.WriteHeader(65535, header);
        Assert.Equal(new byte[] { 0xFF, 0xFF }, header);
        Assert.Throws<ArgumentOutOfRangeException>(() => BinaryLengthCodec.UInt16BigEndian.WriteHeader(65536, header));
    }

    [Fact]
    public void APayloadShorterThanAPositiveAdjustmentCannotBeEncoded()
    {
        var codec = new BinaryLengthCodec(2, lengthAdjustment: 3);
        Assert.Throws<ArgumentOutOfRangeException>(() => codec.WriteHeader(2, new byte[2]));
    }

    [Theory]
    [InlineData(0, 0, -1)]
    [InlineData(9, 0, -1)]
    [InlineData(4, -1, -1)]
    [InlineData(4, 2, 5)]
    [InlineData(4, 0, 3)]
    public void ImpossibleLayoutsAreRejectedAtConstruction(int width, int offset, int headerLength)
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new BinaryLengthCodec(width, Endianness.BigEndian, offset, headerLength));
        Assert.False(string.IsNullOrWhiteSpace(ex.Message));
    }

    [Fact]
    public void AHeaderSplitAcrossSegmentsDecodesWithoutAllocating()
    {
        var codec = new BinaryLengthCodec(4, Endianness.BigEndian, fieldOffset: 8, headerLength: 24);
        byte[] data = new byte[30];
        data[11] = 6;
        var sequence = SegmentedSequence.OneByteSegments(data);
        Assert.Equal(OperationStatus.Done, codec.DecodeHeader(sequence, out _, out long warm));
        long before = GC.GetAllocatedBytesForCurrentThread();
        OperationStatus status = codec.DecodeHeader(sequence, out int h, out long p);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(OperationStatus.Done, status);
        Assert.Equal((24, 6L, 0L), (h, p, allocated));
        Assert.Equal(warm, p);
    }
}
