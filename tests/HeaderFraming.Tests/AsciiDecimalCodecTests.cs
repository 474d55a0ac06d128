using System.Buffers;
using System.Text;
using HeaderFraming.Codecs;
using HeaderFraming.Testing;
using HeaderFraming.Tests.Infrastructure;
using static HeaderFraming.Tests.Infrastructure.FrameTestKit;

namespace HeaderFraming.Tests;

public class AsciiDecimalCodecTests
{
    [Theory]
    [InlineData("22        Welcome to the server!", "Welcome to the server!")]
    [InlineData("30        The time is 1552068302.0181189", "The time is 1552068302.0181189")]
    [InlineData("0         ", "")]
    public void SeedMessagesDecodeToTheirPayload(string wire, string expectedPayload)
    {
        byte[] bytes = Ascii(wire);
        Assert.Equal(OperationStatus.Done, AsciiDecimalCodec.Default.DecodeHeader(bytes, out int headerLength, out long payloadLength));
        Assert.Equal(10, headerLength);
        Assert.Equal(expectedPayload.Length, payloadLength);

        foreach (var sequence in new[] { new System.Buffers.ReadOnlySequence<byte>(bytes), SegmentedSequence.OneByteSegments(bytes) })
        {
            List<byte[]> frames = DecodeAll(sequence, AsciiDecimalCodec.Default);
            Assert.Equal(expectedPayload, Encoding.UTF8.GetString(Assert.Single(frames)));
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(22)]
    [InlineData(30)]
    [InlineData(1234567890)]
    [InlineData(9999999999)]
    public void EncodingIsByteExactWithPythonLeftAlignedFormat(long length)
    {
        var header = new byte[10];
        Assert.Equal(10, AsciiDecimalCodec.Default.WriteHeader(length, header));
        Assert.Equal(PythonHeader(length), header);
    }

    [Theory]
    [InlineData(AsciiAlignment.Right, 22, "        22")]
    [InlineData(AsciiAlignment.ZeroPadded, 22, "0000000022")]
    [InlineData(AsciiAlignment.Right, 0, "         0")]
    [InlineData(AsciiAlignment.ZeroPadded, 0, "0000000000")]
    public void OtherAlignmentsRoundTrip(AsciiAlignment alignment, long length, string expected)
    {
        var codec = new AsciiDecimalCodec(10, alignment);
        var header = new byte[10];
        codec.WriteHeader(length, header);
        Assert.Equal(expected, Encoding.ASCII.GetString(header));
        Assert.Equal(OperationStatus.Done, codec.DecodeHeader(header, out _, out long decoded));
        Assert.Equal(length, decoded);
    }

    [Fact]
    public void EveryPrefixOfAHeaderNeedsMoreBytes()
    {
        byte[] bytes = Ascii("22        Welcome to the server!");
        for (int i = 0; i < 10; i++)
        {
            Assert.Equal(OperationStatus.NeedMoreData, AsciiDecimalCodec.Default.DecodeHeader(bytes.AsSpan(0, i), out _, out _));
        }
    }

    [Theory]
    [InlineData("+22       ", "sign")]
    [InlineData("-1        ", "sign")]
    [InlineData(" 22       ", "space where a digit")]
    [InlineData("2 2       ", "byte 2")]
    [InlineData("          ", "all spaces")]
    [InlineData("22x       ", "byte 2")]
    [InlineData("22\0       ", "byte 2")]
    [InlineData("GET / HTTP/1.1\r\n", "HTTP")]
    public void MalformedLeftAlignedHeadersThrowATypedError(string wire, string messagePart)
    {
        var ex = CodecAssert.Invalid(AsciiDecimalCodec.Default, Ascii(wire));
        Assert.Contains(messagePart, ex.Message, StringComparison.Ordinal);
        Assert.Equal(FrameErrorKind.Malformed, ex.Kind);
        Assert.Equal(Ascii(wire)[..10], ex.Header.ToArray());
    }

    [Fact]
    public void ATlsClientHelloIsRecognisedInTheError()
    {
        byte[] hello = [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC, 0x03, 0x03];
        var ex = CodecAssert.Invalid(AsciiDecimalCodec.Default, hello);
        Assert.Contains("TLS", ex.Message, StringComparison.Ordinal);
        Assert.Contains("16 03 01", ex.Message, StringComparison.Ordinal);
        Assert.Contains("\\x16\\x03", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(AsciiAlignment.Right, "22        ")]
    [InlineData(AsciiAlignment.Right, "     2 2  ")]
    [InlineData(AsciiAlignment.ZeroPadded, "        22")]
    [InlineData(AsciiAlignment.ZeroPadded, "00000000-1")]
    public void OtherAlignmentsAreStrictAboutTheirLayout(AsciiAlignment alignment, string wire)
    {
        var codec = new AsciiDecimalCodec(10, alignment);
        CodecAssert.Invalid(codec, Ascii(wire));
    }

    [Fact]
    public void ANineteenDigitValueAboveLongMaxIsRejected()
    {
        var codec = new AsciiDecimalCodec(19);
        Assert.Equal(OperationStatus.Done, codec.DecodeHeader(Ascii("9223372036854775807"), out _, out long max));
        Assert.Equal(long.MaxValue, max);
        var ex = CodecAssert.Invalid(codec, Ascii("9999999999999999999"));
        Assert.Contains("overflows", ex.Message, StringComparison.Ordinal);
        Assert.Contains("the ASCII length 9999999999999999999 overflows", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void EncodingRefusesLengthsOverTenToTheWidthMinusOne()
    {
        var codec = new AsciiDecimalCodec(3);
        Assert.Equal(999, codec.MaxPayloadLength);
        var header = new byte[3];
        codec.WriteHeader(999, header);
        Assert.Equal("999", Encoding.ASCII.GetString(header));
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => codec.WriteHeader(1000, header));
        Assert.Contains("does not fit", ex.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => codec.WriteHeader(-1, header));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(20)]
    public void WidthsOutsideOneToNineteenAreRejected(int width)
        => Assert.Throws<ArgumentOutOfRangeException>(() => new AsciiDecimalCodec(width));
}
