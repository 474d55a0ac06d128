using System;
using System.Globalization;

namespace HeaderFraming;

/// <summary>The stream ended in the middle of a frame. Every complete frame before it was delivered.</summary>
public sealed class FrameTruncatedException : FrameException
{
    /// <summary>Creates the exception for a frame cut short by the end of the stream.</summary>
    /// <param name="receivedBytes">How many bytes of the frame (header included) arrived.</param>
    /// <param name="expectedBytes">How many bytes the frame needed (header included), or -1 when the header itself was incomplete.</param>
    /// <param name="header">The header bytes received.</param>
    public FrameTruncatedException(long receivedBytes, long expectedBytes, ReadOnlySpan<byte> header)
        : base(expectedBytes < 0
            ? string.Format(CultureInfo.InvariantCulture,
                "{0:N0} bytes of a frame header were received before the stream ended; the header was incomplete", receivedBytes)
            : string.Format(CultureInfo.InvariantCulture,
                "{0:N0} bytes of a frame were received before the stream ended, {1:N0} expected (header included)", receivedBytes, expectedBytes),
            header)
    {
        ReceivedBytes = receivedBytes;
        ExpectedBytes = expectedBytes;
    }

    /// <summary>For a stream that ended inside a unit larger than a frame (a message of several packets).</summary>
    internal FrameTruncatedException(string problem, long receivedBytes, long expectedBytes, ReadOnlySpan<byte> header)
        : base(problem, header)
    {
        ReceivedBytes = receivedBytes;
        ExpectedBytes = expectedBytes;
    }

    /// <inheritdoc />
    public override FrameErrorKind Kind => FrameErrorKind.Truncated;

    /// <summary>How many bytes of the frame, header included, arrived before the stream ended.</summary>
    public long ReceivedBytes { get; }

    /// <summary>How many bytes the frame needed, header included; -1 when even the header was incomplete.</summary>
    public long ExpectedBytes { get; }
}
