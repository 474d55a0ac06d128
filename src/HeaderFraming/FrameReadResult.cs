namespace HeaderFraming;

/// <summary>The outcome of <see cref="FrameReader.ReadFrameAsync"/>: a frame, or the end of the stream, or a cancelled read.
/// Mirrors <see cref="System.IO.Pipelines.ReadResult"/>.</summary>
public readonly struct FrameReadResult
{
    private readonly byte _flags;

    internal FrameReadResult(Frame frame)
    {
        Frame = frame;
        _flags = 0;
    }

    private FrameReadResult(byte flags)
    {
        Frame = default;
        _flags = flags;
    }

    /// <summary>The frame that was read. Empty when <see cref="IsCompleted"/> or <see cref="IsCanceled"/> is set.</summary>
    /// <remarks>Valid until the next read; see <see cref="HeaderFraming.Frame"/>.</remarks>
    public Frame Frame { get; }

    /// <summary><see langword="true"/> when the stream ended cleanly, exactly between two frames: there are no more frames.</summary>
    public bool IsCompleted => (_flags & 1) != 0;

    /// <summary><see langword="true"/> when the read was cancelled by <see cref="FrameReader.CancelPendingRead"/> (or the
    /// pipe's <see cref="System.IO.Pipelines.PipeReader.CancelPendingRead"/>). Nothing was consumed: the next read returns
    /// the frame that would have come next.</summary>
    public bool IsCanceled => (_flags & 2) != 0;

    /// <summary><see langword="true"/> when <see cref="Frame"/> holds a frame.</summary>
    public bool HasFrame => _flags == 0;

    internal static FrameReadResult Completed => new FrameReadResult(1);

    internal static FrameReadResult Canceled => new FrameReadResult(2);
}
