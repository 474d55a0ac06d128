using System;
using System.Runtime.CompilerServices;

namespace HeaderFraming;

/// <summary>The outcome of <see cref="FrameReader.ReadFrameAsync(System.Threading.CancellationToken)"/>: a frame, or the end of the stream, or a cancelled read.
/// Mirrors <see cref="System.IO.Pipelines.ReadResult"/>.</summary>
/// <remarks>
/// <para>A result is two words: the reader and the number of the frame it returned. <see cref="Frame"/> asks the reader
/// for that frame, so a read that completes synchronously returns a small <see cref="System.Threading.Tasks.ValueTask{TResult}"/>.</para>
/// <para>Like the frame itself, a result's <see cref="Frame"/> is valid until the reader reads again (a frame, raw bytes,
/// or a wait for bytes), detaches or completes; after that it throws <see cref="InvalidOperationException"/> instead of
/// returning memory the pipe may already have reused. A <see cref="HeaderFraming.Frame"/> taken from the result before
/// then is a value of its own, with the same lifetime rule.</para>
/// </remarks>
public readonly struct FrameReadResult
{
    // With a frame: the reader that returned it and the frame's number (FrameReader's count of frames returned). Without
    // one: no reader, and the flags.
    private readonly FrameReader? _reader;
    private readonly long _frameOrFlags;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal FrameReadResult(FrameReader reader, long frameNumber)
    {
        _reader = reader;
        _frameOrFlags = frameNumber;
    }

    private FrameReadResult(ResultFlags flags)
    {
        _reader = null;
        _frameOrFlags = (long)flags;
    }

    [Flags]
    private enum ResultFlags
    {
        None = 0,
        Completed = 1,
        Canceled = 2,
    }

    /// <summary>The frame that was read. Empty when <see cref="HasFrame"/> is <see langword="false"/>.</summary>
    /// <remarks>Valid until the next read; see <see cref="HeaderFraming.Frame"/>.</remarks>
    /// <exception cref="InvalidOperationException">The reader has read again (or detached, or completed) since it returned
    /// this result: the frame's memory is no longer the reader's to lend.</exception>
    public Frame Frame
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => _reader is null ? default : _reader.ResultFrame(_frameOrFlags);
    }

    /// <summary><see langword="true"/> when the stream ended cleanly, exactly between two frames: there are no more frames.</summary>
    public bool IsCompleted => _reader is null && (Flags & ResultFlags.Completed) != 0;

    /// <summary><see langword="true"/> when the read was cancelled by <see cref="FrameReader.CancelPendingRead"/> (or the
    /// pipe's <see cref="System.IO.Pipelines.PipeReader.CancelPendingRead"/>). Nothing was consumed: the next read returns
    /// the frame that would have come next.</summary>
    public bool IsCanceled => _reader is null && (Flags & ResultFlags.Canceled) != 0;

    /// <summary><see langword="true"/> when <see cref="Frame"/> holds a frame (<see langword="false"/> for the completed and
    /// cancelled results, and for <see langword="default"/>).</summary>
    public bool HasFrame => _reader is not null;

    internal static FrameReadResult Completed => new FrameReadResult(ResultFlags.Completed);

    internal static FrameReadResult Canceled => new FrameReadResult(ResultFlags.Canceled);

    private ResultFlags Flags => (ResultFlags)_frameOrFlags;
}
