using System;

namespace HeaderFraming;

/// <summary>The outcome of <see cref="FrameReader.ReadFrameAsync"/>: a frame, or the end of the stream, or a cancelled read.
/// Mirrors <see cref="System.IO.Pipelines.ReadResult"/>.</summary>
public readonly struct FrameReadResult
{
    private readonly Frame _frame;
    private readonly ResultFlags _flags;

    internal FrameReadResult(in Frame frame)
    {
        _frame = frame;
        _flags = ResultFlags.None;
    }

    private FrameReadResult(ResultFlags flags)
    {
        _frame = default;
        _flags = flags;
    }

    [Flags]
    private enum ResultFlags : byte
    {
        None = 0,
        Completed = 1,
        Canceled = 2,
    }

    /// <summary>The frame that was read. Empty when <see cref="IsCompleted"/> or <see cref="IsCanceled"/> is set.</summary>
    /// <remarks>Valid until the next read; see <see cref="HeaderFraming.Frame"/>.</remarks>
    public Frame Frame => _frame;

    /// <summary><see langword="true"/> when the stream ended cleanly, exactly between two frames: there are no more frames.</summary>
    public bool IsCompleted => (_flags & ResultFlags.Completed) != 0;

    /// <summary><see langword="true"/> when the read was cancelled by <see cref="FrameReader.CancelPendingRead"/> (or the
    /// pipe's <see cref="System.IO.Pipelines.PipeReader.CancelPendingRead"/>). Nothing was consumed: the next read returns
    /// the frame that would have come next.</summary>
    public bool IsCanceled => (_flags & ResultFlags.Canceled) != 0;

    /// <summary><see langword="true"/> when <see cref="Frame"/> holds a frame.</summary>
    public bool HasFrame => _flags == ResultFlags.None;

    internal static FrameReadResult Completed => new FrameReadResult(ResultFlags.Completed);

    internal static FrameReadResult Canceled => new FrameReadResult(ResultFlags.Canceled);
}
