using System;
using System.Globalization;

namespace HeaderFraming;

/// <summary>A read ran out of time: no frame started within <see cref="FrameReaderOptions.IdleTimeout"/>, a started frame was
/// not complete within <see cref="FrameReaderOptions.FrameTimeout"/>, or it arrived slower than
/// <see cref="FrameReaderOptions.MinFrameDataRate"/>. The reader is faulted afterwards, like after any <see cref="FrameException"/>.</summary>
public sealed class FrameTimeoutException : FrameException
{
    internal FrameTimeoutException(FrameTimeoutReason reason, TimeSpan limit, TimeSpan elapsed, long streamOffset, long receivedBytes, long minDataRate, ReadOnlySpan<byte> header)
        : base(Describe(reason, limit, elapsed, streamOffset, receivedBytes, minDataRate), header)
    {
        Reason = reason;
        Timeout = limit;
        Elapsed = elapsed;
        ReceivedBytes = receivedBytes;
        SetStreamOffset(streamOffset);
    }

    /// <inheritdoc />
    public override FrameErrorKind Kind => FrameErrorKind.Timeout;

    /// <summary>Which limit expired.</summary>
    public FrameTimeoutReason Reason { get; }

    /// <summary><see langword="true"/> when no frame started in time (<see cref="FrameTimeoutReason.Idle"/>).</summary>
    public bool IsIdleTimeout => Reason == FrameTimeoutReason.Idle;

    /// <summary>The timeout that expired: <see cref="FrameReaderOptions.IdleTimeout"/>, <see cref="FrameReaderOptions.FrameTimeout"/>,
    /// or, for the data rate, the time by which the bytes received should have arrived at the minimum rate.</summary>
    public TimeSpan Timeout { get; }

    /// <summary>How long the reader had waited for the frame (since its first byte; for <see cref="FrameTimeoutReason.Idle"/>,
    /// since the wait began).</summary>
    public TimeSpan Elapsed { get; }

    /// <summary>How many bytes of the awaited frame had arrived (0 for an idle timeout).</summary>
    public long ReceivedBytes { get; }

    /// <inheritdoc />
    public override string Message => HeaderFraming.Internal.HeaderFormatter.Describe(Problem, -1, HeaderBytes, "A frame read timed out");

    private static string Describe(FrameTimeoutReason reason, TimeSpan limit, TimeSpan elapsed, long streamOffset, long receivedBytes, long minDataRate)
        => reason switch
        {
            FrameTimeoutReason.Idle => string.Format(CultureInfo.InvariantCulture,
                "no frame started within the idle timeout of {0} (FrameReaderOptions.IdleTimeout); the next frame was due at stream offset {1}",
                limit, streamOffset),
            FrameTimeoutReason.Frame => string.Format(CultureInfo.InvariantCulture,
                "the frame at stream offset {0} was not complete within the frame timeout of {1} (FrameReaderOptions.FrameTimeout): {2:N0} bytes of it had arrived",
                streamOffset, limit, receivedBytes),
            _ => string.Format(CultureInfo.InvariantCulture,
                "the frame at stream offset {0} arrived slower than the minimum data rate of {1:N0} bytes/s (FrameReaderOptions.MinFrameDataRate): {2:N0} bytes in {3:0.###} s",
                streamOffset, minDataRate, receivedBytes, elapsed.TotalSeconds),
        };
}
