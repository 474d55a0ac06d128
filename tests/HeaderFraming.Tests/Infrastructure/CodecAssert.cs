using System.Buffers;
using HeaderFraming.Testing;

namespace HeaderFraming.Tests.Infrastructure;

/// <summary>Assertions over the codec contract's three outcomes.</summary>
internal static class CodecAssert
{
    /// <summary>Asserts that <paramref name="source"/> is an invalid header and returns the codec's exception for it.</summary>
    public static FrameFormatException Invalid(IFrameCodec codec, ReadOnlySpan<byte> source)
    {
        OperationStatus status = codec.DecodeHeader(source, out int headerLength, out long payloadLength);
        Assert.Equal(OperationStatus.InvalidData, status);
        Assert.Equal(0, headerLength);
        Assert.Equal(0, payloadLength);
        FrameFormatException ex = codec.CreateHeaderException(source);
        Assert.False(string.IsNullOrWhiteSpace(ex.Problem));
        return ex;
    }

    /// <summary>Asserts that <paramref name="wire"/> starts with a header of <paramref name="headerLength"/> bytes declaring
    /// <paramref name="payloadLength"/>: whole, as one-byte segments, and that every shorter prefix is NeedMoreData (whole and
    /// as one-byte segments), with nothing reported.</summary>
    public static void Decodes(IFrameCodec codec, byte[] wire, int headerLength, long payloadLength)
    {
        Assert.Equal(OperationStatus.Done, codec.DecodeHeader(wire, out int h, out long p));
        Assert.Equal((headerLength, payloadLength), (h, p));
        Assert.Equal(OperationStatus.Done, codec.DecodeHeader(SegmentedSequence.OneByteSegments(wire), out h, out p));
        Assert.Equal((headerLength, payloadLength), (h, p));
        for (int i = 0; i < headerLength; i++)
        {
            byte[] prefix = wire[..i];
            Assert.True(OperationStatus.NeedMoreData == codec.DecodeHeader(prefix, out h, out p), $"a prefix of {i} bytes is not NeedMoreData");
            Assert.Equal((0, 0L), (h, p));
            Assert.Equal(OperationStatus.NeedMoreData, codec.DecodeHeader(SegmentedSequence.OneByteSegments(prefix), out h, out p));
            Assert.Equal((0, 0L), (h, p));
        }
    }

    /// <summary><see cref="Invalid"/>, and the same outcome and problem when the bytes come as one-byte segments.</summary>
    public static FrameFormatException InvalidWholeAndSplit(IFrameCodec codec, byte[] source)
    {
        FrameFormatException ex = Invalid(codec, source);
        ReadOnlySequence<byte> split = SegmentedSequence.OneByteSegments(source);
        Assert.Equal(OperationStatus.InvalidData, codec.DecodeHeader(split, out int h, out long p));
        Assert.Equal((0, 0L), (h, p));
        Assert.Equal(ex.Problem, codec.CreateHeaderException(split).Problem);
        return ex;
    }
}
