namespace HeaderFraming;

/// <summary>What went wrong with a frame; carried by every <see cref="FrameException"/>.</summary>
public enum FrameErrorKind
{
    /// <summary>The header does not follow the codec's layout (a non-digit in an ASCII header, a varint that never ends, a length that overflows).</summary>
    Malformed = 1,

    /// <summary>The header is well formed but declares a payload longer than the reader's <see cref="FrameReaderOptions.MaxFrameLength"/>.</summary>
    TooLarge = 2,

    /// <summary>The stream ended in the middle of a frame.</summary>
    Truncated = 3,

    /// <summary>A timeout or the minimum data rate of <see cref="FrameReaderOptions"/> expired (<see cref="FrameTimeoutException"/>).</summary>
    Timeout = 4,
}
