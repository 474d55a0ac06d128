using System.Buffers;
using HeaderFraming.Tests.Infrastructure;
using HeaderFraming.Codecs;

namespace HeaderFraming.Tests;

public class VarintCodecTests
{
    [Theory]
    [InlineData(0L, new byte[] { 0x00 })]
    [InlineData(5L, new byte[] { 0x05 })]
    [InlineData(127L, new byte[] { 0x7F })]
    [InlineData(128L, new byte[] { 0x80, 0x01 })]
    [InlineData(300L, new byte[] { 0xAC, 0x02 })]
    [InlineData(16384L, new byte[] { 0x80, 0x80, 0x01 })]
    [InlineData(long.MaxValue, new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F })]
    public void KnownEncodingsRoundTrip(long value, byte[] encoding)
    {
        var codec = VarintCodec.Instance;
        Assert.Equal(encoding.Length, codec.GetHeaderLength(value));
        var buffer = new byte[9];
        Assert.Equal(encoding.Length, codec.WriteHeader(value, buffer));
        Assert.Equal(encoding, buffer[..encoding.Length]);
        Assert.Equal(OperationStatus.Done, codec.DecodeHeader(encoding, out int h, out long p));
        Assert.Equal((encoding.Length, value), (h, p));
        for (int i = 0; i < encoding.Length; i++)
        {
            Assert.Equal(OperationStatus.NeedMoreData, codec.DecodeHeader(encoding.AsSpan(0, i), out _, out _));
        }
    }

    [Theory]
    [InlineData(new byte[] { 0x80, 0x00 })]
    [InlineData(new byte[] { 0xAC, 0x82, 0x00 })]
    public void OverLongEncodingsAreRejected(byte[] encoding)
    {
        var ex = CodecAssert.Invalid(VarintCodec.Instance, encoding);
        Assert.Contains("over-long", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AVarintThatNeverEndsIsRejectedAfterNineBytes()
    {
        byte[] endless = Enumerable.Repeat((byte)0xFF, 12).ToArray();
        Assert.Equal(OperationStatus.NeedMoreData, VarintCodec.Instance.DecodeHeader(endless.AsSpan(0, 8), out _, out _));
        var ex = CodecAssert.Invalid(VarintCodec.Instance, endless);
        Assert.Contains("not ended after 9 bytes", ex.Message, StringComparison.Ordinal);
        Assert.Equal(9, ex.Header.Length);
    }
}
