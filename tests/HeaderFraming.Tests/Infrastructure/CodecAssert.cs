using System.Buffers;

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
}
