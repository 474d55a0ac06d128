using System;
using System.Globalization;

namespace HeaderFraming;

/// <summary>A read ran out of time: no frame started within <see cref="FrameReaderOptions.IdleTimeout"/>, or a started frame
/// was not complete within <see cref="FrameReaderOptions.FrameTimeout"/>. The reader is faulted afterwards.</summary>
public sealed class FrameTimeoutException : TimeoutException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="isIdle"><see langword="true"/> for the idle timeout, <see langword="false"/> for the frame timeout.</param>
    /// <param name="timeout">The timeout that expired.</param>
    /// <param name="streamOffset">The stream offset where the awaited frame starts.</param>
    /// <param name="receivedBytes">How many bytes of that frame had arrived.</param>
    public FrameTimeoutException(bool isIdle, TimeSpan timeout, long streamOffset, long receivedBytes)
        : base(isIdle
            ? string.Format(CultureInfo.InvariantCulture,
                "No frame started within the idle timeout of {0} (FrameReaderOptions.IdleTimeout); the next frame was due at stream offset {1}.",
                timeout, streamOffset)
            : string.Format(CultureInfo.InvariantCulture,
                "The frame at stream offset {0} was not complete within the frame timeout of {1} (FrameReaderOptions.FrameTimeout): {2:N0} bytes of it had arrived.",
                streamOffset, timeout, receivedBytes))
    {
        IsIdleTimeout = isIdle;
        Timeout = timeout;
        StreamOffset = streamOffset;
        ReceivedBytes = receivedBytes;
    }

    /// <summary><see langword="true"/> when no frame started in time (idle); <see langword="false"/> when a started frame did not finish in time.</summary>
    public bool IsIdleTimeout { get; }

    /// <summary>The timeout that expired.</summary>
    public TimeSpan Timeout { get; }

    /// <summary>The stream offset where the awaited frame starts.</summary>
    public long StreamOffset { get; }

    /// <summary>How many bytes of the awaited frame had arrived (0 for an idle timeout).</summary>
    public long ReceivedBytes { get; }
}
