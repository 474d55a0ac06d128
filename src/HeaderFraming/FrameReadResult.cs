using System;
using System.Runtime.CompilerServices;

namespace HeaderFraming;

/// <summary>The outcome of <see cref="FrameReader.ReadFrameAsync(System.Threading.CancellationToken)"/>: a frame, or the end of the stream, or a cancelled read.
/// Mirrors <see cref="System.IO.Pipelines.ReadResult"/>.</summary>
/// <remarks>It is exactly as big as a <see cref="HeaderFraming.Frame"/> (its flags live in the frame's spare bits), so a
/// read that completes synchronously copies four words.</remarks>
public readonly struct FrameReadResult
{
    private readonly Frame _frame;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal FrameReadResult(in Frame frame) => _frame = frame;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal FrameReadResult(byte[] array, int start, int length, int headerLength, long streamOffset)
        => _frame = new Frame(array, start, length, headerLength, streamOffset);

    private FrameReadResult(ResultFlags flags) => _frame = new Frame((int)flags);

    [Flags]
    private enum ResultFlags
    {
        None = 0,
        Completed = 1,
        Canceled = 2,
    }

    /// <summary>The frame that was read. Empty when <see cref="IsCompleted"/> or <see cref="IsCanceled"/> is set.</summary>
    /// <remarks>Valid until the next read; see <see cref="HeaderFraming.Frame"/>.</remarks>
    public Frame Frame => _frame;

    /// <summary><see langword="true"/> when the stream ended cleanly, exactly between two frames: there are no more frames.</summary>
    public bool IsCompleted => (Flags & ResultFlags.Completed) != 0;

    /// <summary><see langword="true"/> when the read was cancelled by <see cref="FrameReader.CancelPendingRead"/> (or the
    /// pipe's <see cref="System.IO.Pipelines.PipeReader.CancelPendingRead"/>). Nothing was consumed: the next read returns
    /// the frame that would have come next.</summary>
    public bool IsCanceled => (Flags & ResultFlags.Canceled) != 0;

    /// <summary><see langword="true"/> when <see cref="Frame"/> holds a frame.</summary>
    public bool HasFrame => Flags == ResultFlags.None;

    internal static FrameReadResult Completed => new FrameReadResult(ResultFlags.Completed);

    internal static FrameReadResult Canceled => new FrameReadResult(ResultFlags.Canceled);

    private ResultFlags Flags => (ResultFlags)_frame.ResultFlags;
}
