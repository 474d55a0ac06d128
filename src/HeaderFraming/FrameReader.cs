using System;
using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;
using System.Threading;
using System.Threading.Tasks;
using HeaderFraming.Internal;

namespace HeaderFraming;

/// <summary>
/// Reads whole frames from a <see cref="PipeReader"/>. Each frame's header and payload are slices of the pipe's own buffers:
/// nothing is copied and nothing is allocated per frame.
/// </summary>
/// <remarks>
/// <para><b>Lifetime:</b> a frame is valid until the next call to <see cref="ReadFrameAsync"/> or <see cref="TryReadFrame(out Frame)"/>.</para>
/// <para>The reader decodes every complete frame already buffered before it asks the pipe for more, so
/// <see cref="ReadFrameAsync"/> completes synchronously whenever a frame is waiting. It parses each header once, checks
/// <see cref="FrameReaderOptions.MaxFrameLength"/> before buffering any payload, and tells the pipe it examined everything it
/// holds, so the pipe wakes it only when new bytes arrive (it never spins).</para>
/// <para>A <see cref="FrameReader"/> is not thread-safe: one reader at a time, as with <see cref="PipeReader"/>.</para>
/// <example>
/// <code>
/// var reader = new FrameReader(pipe.Reader, AsciiDecimalCodec.Default);
/// while (true)
/// {
///     FrameReadResult result = await reader.ReadFrameAsync(cancellationToken);
///     if (result.IsCompleted) break;              // the peer closed between two frames
///     Console.WriteLine(Encoding.UTF8.GetString(result.Frame.Payload.ToArray()));
/// }
/// </code>
/// </example>
/// </remarks>
public sealed partial class FrameReader
{
    private readonly PipeReader _reader;
    private readonly IFrameCodec _codec;
    private readonly long _maxFrameLength;

    // A codec that declares its length field (ILengthFieldCodec) is decoded inline: _layoutHeaderLength > 0.
    private readonly int _layoutHeaderLength;
    private readonly int _layoutFieldOffset;
    private readonly int _layoutFieldWidth;
    private readonly LengthFieldKind _layoutKind;
    private readonly bool _layoutAlwaysValid;
    private readonly long _layoutAdjustment;
    private readonly LengthFieldLayout? _layout;

    // 4 or 2 when the layout is a plain big-endian prefix (offset 0, the whole header, no adjustment: Kafka, DNS), the
    // commonest shape, decoded with no lookups at all; 0 otherwise.
    private readonly int _plainPrefixWidth;

    // Fast path: the segment holding the next frame, as an array slice when the memory is array-backed, else as a memory
    // manager's block (or neither: slow path only). _segment is null when there is no fast path.
    private byte[]? _segmentArray;
    private int _segmentArrayOffset;
    private int _segmentIndex;
    private int _segmentEnd;
    private ReadOnlySequenceSegment<byte>? _segment;
    private ReadOnlyMemory<byte> _segmentMemory;
    private MemoryManager<byte>? _segmentManager;
    private int _segmentManagerOffset;

    // Stream offset of the next frame's first byte, and frames returned so far.
    private long _offset;
    private long _framesRead;

    // A parsed header whose payload has not fully arrived yet (tokio's DecodeState::Data).
    private int _pendingHeaderLength = -1;
    private long _pendingPayloadLength;

    // The buffer of the last ReadResult; valid while _hasBuffer. The next frame starts at (_segment, _segmentIndex) for a
    // segment-based buffer, else at _position.
    private ReadOnlySequence<byte> _buffer;
    private SequencePosition _position;
    private bool _hasBuffer;
    private bool _isPipeCompleted;

    private ExceptionDispatchInfo? _fault;

    // A wait of ReadFrameCoreAsync that an owner may abort (a connection's dispose): NotWaiting, Waiting or Aborted.
    private const int NotWaiting = 0;
    private const int Waiting = 1;
    private const int Aborted = 2;
    private int _waitState;
    private Exception? _abortException;
    private TaskCompletionSource<bool>? _abortedReadExited;

    // Timeouts and the minimum data rate (null when none is configured); a user's CancelPendingRead shares the pipe's one
    // cancellation flag with the timer.
    private readonly ReadTimeouts? _timeouts;
    private int _userCanceled;

    /// <summary>Creates a reader of frames.</summary>
    /// <param name="reader">The pipe to read from. The frame reader never completes it; <see cref="Complete"/> does.</param>
    /// <param name="codec">The header format.</param>
    /// <param name="options">Limits and timeouts; <see langword="null"/> for the defaults (8 MiB frames, no timeouts).</param>
    public FrameReader(PipeReader reader, IFrameCodec codec, FrameReaderOptions? options = null)
    {
        _reader = reader ?? throw new ArgumentNullException(nameof(reader));
        _codec = codec ?? throw new ArgumentNullException(nameof(codec));
        if ((uint)codec.MaxHeaderLength > Frame.MaxHeaderLength)
        {
            ThrowHelper.ThrowArgument(nameof(codec), $"The codec's MaxHeaderLength ({codec.MaxHeaderLength}) is not between 0 and {Frame.MaxHeaderLength} bytes.");
        }

        options ??= FrameReaderOptions.Default;
        _maxFrameLength = options.MaxFrameLength;
        if (codec is ILengthFieldCodec lengthFieldCodec)
        {
            LengthFieldLayout layout = lengthFieldCodec.LengthField ?? throw new ArgumentException("The codec's LengthField is null.", nameof(codec));
            _layout = layout;
            _layoutHeaderLength = layout.HeaderLength;
            _layoutFieldOffset = layout.FieldOffset;
            _layoutFieldWidth = layout.FieldWidth;
            _layoutKind = layout.Kind;
            _layoutAlwaysValid = layout.AlwaysValid;
            _layoutAdjustment = layout.Adjustment;
            _plainPrefixWidth = layout is { FieldOffset: 0, Adjustment: 0, Endianness: Codecs.Endianness.BigEndian, FieldWidth: 4 or 2 } && layout.HeaderIsField
                ? layout.FieldWidth
                : 0;
        }

        _timeouts = ReadTimeouts.Create(options, CancelForTimer);
    }

    /// <summary>The header format.</summary>
    public IFrameCodec Codec => _codec;

    /// <summary>The stream offset of the next frame: how many bytes of whole frames this reader has returned.</summary>
    public long Position => _offset;

    /// <summary>Told when the reader latches its fault (a connection's shutdown reason).</summary>
    internal IReaderFaultObserver? FaultObserver { get; set; }

    /// <summary>Frames returned so far (a connection's counter).</summary>
    internal long FramesRead => Volatile.Read(ref _framesRead);

    /// <summary>
    /// Reads the next frame, waiting for bytes only when no complete frame is buffered.
    /// </summary>
    /// <param name="cancellationToken">Cancels the wait for bytes. Cancelling consumes nothing: the next read returns the frame
    /// that would have come next.</param>
    /// <returns>The frame (valid until the next read), or <see cref="FrameReadResult.IsCompleted"/> when the stream ended
    /// exactly between two frames, or <see cref="FrameReadResult.IsCanceled"/> after <see cref="CancelPendingRead"/>.</returns>
    /// <exception cref="FrameFormatException">A header is malformed. Every earlier frame was returned first.</exception>
    /// <exception cref="FrameTooLargeException">A header declares more than <see cref="FrameReaderOptions.MaxFrameLength"/>.</exception>
    /// <exception cref="FrameTruncatedException">The stream ended in the middle of a frame.</exception>
    /// <exception cref="FrameTimeoutException">A timeout of <see cref="FrameReaderOptions"/> expired.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public ValueTask<FrameReadResult> ReadFrameAsync(CancellationToken cancellationToken = default)
    {
        // The hot path builds the result straight from its parts: going through a Frame local (an out parameter) makes the
        // JIT copy it with wide loads right after narrow stores, which stalls store forwarding several times per frame.
        byte[]? array = _segmentArray;
        if (array != null && _segment != null && TryDecodeContiguous(out int index, out int headerLength, out int payloadLength))
        {
            int length = headerLength + payloadLength;
            return new ValueTask<FrameReadResult>(new FrameReadResult(array, _segmentArrayOffset + index, length, headerLength, _offset - length));
        }

        return ReadFrameSlowAsync(cancellationToken);
    }

    /// <summary>Every other case of <see cref="ReadFrameAsync"/>: a frame in non-array memory or split across segments,
    /// and the waits.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private ValueTask<FrameReadResult> ReadFrameSlowAsync(CancellationToken cancellationToken)
    {
        if (TryReadFrame(out Frame frame))
        {
            return new ValueTask<FrameReadResult>(new FrameReadResult(frame));
        }

        return ReadFrameCoreAsync(cancellationToken);
    }

    /// <summary>
    /// Returns the next frame if it is already buffered; never waits and never reads from the pipe. Useful to drain a batch
    /// of frames synchronously after an await.
    /// </summary>
    /// <param name="frame">The frame, valid until the next read.</param>
    /// <returns><see langword="true"/> if a frame was returned.</returns>
    /// <exception cref="FrameFormatException">A header is malformed.</exception>
    /// <exception cref="FrameTooLargeException">A header declares more than <see cref="FrameReaderOptions.MaxFrameLength"/>.</exception>
    public bool TryReadFrame(out Frame frame)
    {
        if (_segment != null && TryDecodeContiguous(out int index, out int headerLength, out int payloadLength))
        {
            int length = headerLength + payloadLength;
            long streamOffset = _offset - length;
            frame = _segmentArray != null
                ? new Frame(_segmentArray, _segmentArrayOffset + index, length, headerLength, streamOffset)
                : Frame.InManager(_segmentManager!, _segmentManagerOffset + index, length, headerLength, streamOffset);
            return true;
        }

        return TryReadFrameSlow(out frame);
    }

    /// <summary>
    /// The fastest way to drain buffered frames: returns the next frame as two spans when it is already buffered in one
    /// contiguous block of the pipe's memory, which is almost every frame smaller than a pipe segment. Returns
    /// <see langword="false"/> when no complete frame is buffered <i>or</i> the next frame is split across two buffers; then
    /// <see cref="ReadFrameAsync"/> (or <see cref="TryReadFrame(out Frame)"/>) returns it, since they handle every frame.
    /// </summary>
    /// <param name="header">The header bytes, valid until the next read.</param>
    /// <param name="payload">The payload bytes, valid until the next read.</param>
    /// <returns><see langword="true"/> if a frame was returned.</returns>
    /// <remarks>
    /// <example>
    /// <code>
    /// while (true)
    /// {
    ///     while (reader.TryReadFrame(out ReadOnlySpan&lt;byte&gt; header, out ReadOnlySpan&lt;byte&gt; payload))
    ///         Handle(payload);                                   // contiguous frames: no struct, no sequence
    ///     FrameReadResult result = await reader.ReadFrameAsync(); // split frames, and waiting for more bytes
    ///     if (result.IsCompleted) break;
    ///     Handle(result.Frame.Payload);
    /// }
    /// </code>
    /// </example>
    /// </remarks>
    /// <exception cref="FrameFormatException">A header is malformed.</exception>
    /// <exception cref="FrameTooLargeException">A header declares more than <see cref="FrameReaderOptions.MaxFrameLength"/>.</exception>
    public bool TryReadFrame(out ReadOnlySpan<byte> header, out ReadOnlySpan<byte> payload)
    {
        if (_segment != null && TryDecodeContiguous(out int index, out int headerLength, out int payloadLength))
        {
            ReadOnlySpan<byte> span = CurrentSegmentSpan();
            header = span.Slice(index, headerLength);
            payload = span.Slice(index + headerLength, payloadLength);
            return true;
        }

        if (_segment == null && TryReadFrameSlow(out Frame frame))
        {
            // Not a segment-based buffer (a custom PipeReader's array or memory): one block, so always contiguous.
            Debug.Assert(frame.IsContiguous);
            header = frame.HeaderSpan;
            payload = frame.PayloadSpan;
            return true;
        }

        header = default;
        payload = default;
        return false;
    }

    /// <summary>
    /// Decodes the next frame if it lies whole in the current segment, and moves past it. The hot path: one span, the
    /// length field read inline (or one codec call), no sequence arithmetic, no exception handling. Anything else (a header
    /// or payload that runs past the segment, an invalid header, a frame over the limit) returns <see langword="false"/>
    /// and is left to the slow path, which reports it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool TryDecodeContiguous(out int index, out int headerLength, out int payloadLength)
    {
        Debug.Assert(_segment != null);
        index = _segmentIndex;
        if (_pendingHeaderLength < 0)
        {
            ReadOnlySpan<byte> span = CurrentSegmentSpan().Slice(index);
            long payload;
            bool decoded;
            if (_plainPrefixWidth == 4)
            {
                headerLength = 4;
                decoded = span.Length >= 4;
                payload = decoded ? BinaryPrimitives.ReadUInt32BigEndian(span) : 0;
            }
            else if (_plainPrefixWidth == 2)
            {
                headerLength = 2;
                decoded = span.Length >= 2;
                payload = decoded ? BinaryPrimitives.ReadUInt16BigEndian(span) : 0;
            }
            else if (_layoutHeaderLength != 0)
            {
                headerLength = _layoutHeaderLength;
                decoded = span.Length >= headerLength;
                payload = 0;
                if (decoded)
                {
                    ulong field = LengthFieldLayout.ReadField(_layoutKind, span.Slice(_layoutFieldOffset), _layoutFieldWidth);
                    if (_layoutAlwaysValid)
                    {
                        payload = (long)field + _layoutAdjustment;
                    }
                    else
                    {
                        decoded = _layout!.TryAdjust(field, out payload);
                    }
                }
            }
            else
            {
                decoded = _codec.DecodeHeader(span, out headerLength, out payload) == OperationStatus.Done;
            }

            if (decoded)
            {
                if ((ulong)payload <= (ulong)Math.Min(_maxFrameLength, span.Length - headerLength))
                {
                    payloadLength = (int)payload;
                    _segmentIndex = index + headerLength + payloadLength;
                    CompleteFrame(headerLength, payloadLength);
                    return true;
                }

                if (payload <= _maxFrameLength)
                {
                    // The payload runs past this segment: remember the header so it is parsed only once.
                    _pendingHeaderLength = headerLength;
                    _pendingPayloadLength = payload;
                }
            }
        }

        headerLength = 0;
        payloadLength = 0;
        return false;
    }

    /// <summary>
    /// The bookkeeping of a returned frame, for the fast and the slow path alike (the one place it is written): the stream
    /// offset, the frame count, the parsed header forgotten, the metrics. The position in the buffer is the caller's.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void CompleteFrame(int headerLength, long payloadLength)
    {
        _offset += headerLength + payloadLength;
        _framesRead++;
        _pendingHeaderLength = -1;
        if (FramingMetrics.ReadEnabled)
        {
            FramingMetrics.FrameRead(headerLength, payloadLength);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ReadOnlySpan<byte> CurrentSegmentSpan()
        => _segmentArray != null
            ? new ReadOnlySpan<byte>(_segmentArray, _segmentArrayOffset, _segmentEnd)
            : _segmentMemory.Span.Slice(0, _segmentEnd);

    /// <summary>The position of the next frame in <see cref="_buffer"/>.</summary>
    private SequencePosition CurrentPosition()
        => _segment != null ? new SequencePosition(_segment, _segmentIndex) : _position;

    /// <summary>Reads every frame until the stream ends, as an async sequence.</summary>
    /// <param name="cancellationToken">Cancels the enumeration (so does the token passed to <c>WithCancellation</c>).</param>
    /// <returns>The frames. Each is valid only until the enumerator moves to the next one: copy what you keep.</returns>
    /// <remarks>Ends when the stream ends between frames; throws the same exceptions as <see cref="ReadFrameAsync"/>.
    /// A cancelled read (<see cref="CancelPendingRead"/>) ends the enumeration too. A frame already buffered is returned
    /// synchronously, without an async state machine; one enumerator is allocated per call.</remarks>
    public System.Collections.Generic.IAsyncEnumerable<Frame> ReadAllAsync(CancellationToken cancellationToken = default)
        => new FrameEnumerable(this, cancellationToken);

    /// <summary>Makes the pending (or next) <see cref="ReadFrameAsync"/> return <see cref="FrameReadResult.IsCanceled"/> without consuming anything.</summary>
    public void CancelPendingRead()
    {
        // Recorded so that a cancellation coalescing with a late timer's is still returned to the user.
        Volatile.Write(ref _userCanceled, 1);
        _reader.CancelPendingRead();
    }

    /// <summary>
    /// Ends reading for an owner that may call it while a read waits (a connection's dispose): a read waiting now ends with
    /// <paramref name="exception"/> and completes the pipe reader itself, so that no pipe memory is returned under it;
    /// otherwise the pipe reader is completed at once. Later reads throw <paramref name="exception"/>.
    /// </summary>
    /// <returns>A task that completes when the pipe reader is completed.</returns>
    internal Task AbortAsync(Exception exception)
    {
        _abortException = exception;
        var exited = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref _abortedReadExited, exited);
        if (Interlocked.Exchange(ref _waitState, Aborted) == Waiting)
        {
            _reader.CancelPendingRead();
            return exited.Task;
        }

        Complete();
        return Task.CompletedTask;
    }

    /// <summary>Ends a wait; <see langword="true"/> if the reader was aborted meanwhile.</summary>
    private bool LeaveWait() => Interlocked.CompareExchange(ref _waitState, NotWaiting, Waiting) != Waiting;

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ThrowAborted()
    {
        Complete();
        Volatile.Read(ref _abortedReadExited)?.TrySetResult(true);
        throw _abortException!;
    }

    /// <summary>Completes the underlying <see cref="PipeReader"/>: no more frames will be read, and frames returned earlier become invalid.</summary>
    /// <param name="exception">An error to report to the pipe's writer, or <see langword="null"/>.</param>
    public void Complete(Exception? exception = null)
    {
        _timeouts?.Dispose();
        if (_hasBuffer)
        {
            SequencePosition consumed = CurrentPosition();
            _hasBuffer = false;
            _segment = null;
            _reader.AdvanceTo(consumed, _buffer.End);
        }

        _reader.Complete(exception);
    }

    private bool TryReadFrameSlow(out Frame frame)
    {
        _fault?.Throw();
        frame = default;
        if (!_hasBuffer)
        {
            return false;
        }

        ReadOnlySequence<byte> remaining = _buffer.Slice(CurrentPosition());
        if (remaining.IsEmpty)
        {
            return false;
        }

        int headerLength = _pendingHeaderLength;
        long payloadLength = _pendingPayloadLength;
        if (headerLength < 0)
        {
            OperationStatus status = _codec.DecodeHeader(remaining, out headerLength, out payloadLength);
            if (status == OperationStatus.NeedMoreData)
            {
                return false;
            }

            if (status != OperationStatus.Done)
            {
                throw Fault(_codec.CreateHeaderException(remaining));
            }

            if (payloadLength > _maxFrameLength)
            {
                throw Fault(new FrameTooLargeException(payloadLength, _maxFrameLength, CopyHeader(remaining, headerLength)));
            }

            _pendingHeaderLength = headerLength;
            _pendingPayloadLength = payloadLength;
        }

        if (remaining.Length - headerLength < payloadLength)
        {
            return false;
        }

        ReadOnlySequence<byte> whole = remaining.Slice(0, headerLength + payloadLength);
        frame = Frame.FromSequence(whole, headerLength, _offset);
        CompleteFrame(headerLength, payloadLength);
        SetPosition(whole.End);
        return true;
    }

#if NET
    // Reuses the state machine box across awaits: no allocation per wait for bytes.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
#endif
    // Never inlined into ReadFrameAsync: its state machine would make every synchronous read zero a 500-byte frame.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private async ValueTask<FrameReadResult> ReadFrameCoreAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            long buffered = 0;
            if (_hasBuffer)
            {
                buffered = _buffer.Slice(CurrentPosition()).Length;
                if (_isPipeCompleted)
                {
                    return Finish(buffered);
                }

                // Everything buffered holds no complete frame: keep it (consumed = next frame's start). Either mark it all
                // examined, so the pipe wakes us only when new bytes arrive, or, when the frame's length is known, mark
                // nothing examined and wait for the whole frame with ReadAtLeastAsync (a Pipe counts only unexamined
                // bytes towards its minimum).
                SequencePosition consumed = CurrentPosition();
                _hasBuffer = false;
                _segment = null;
                _reader.AdvanceTo(consumed, WaitsForWholeFrame ? consumed : _buffer.End);
            }

            if (Interlocked.CompareExchange(ref _waitState, Waiting, NotWaiting) != NotWaiting)
            {
                throw _abortException!;
            }

            _timeouts?.Arm(_offset, buffered);
            ReadResult result;
            try
            {
                result = await ReadMoreAsync(cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                if (LeaveWait())
                {
                    ThrowAborted();
                }

                throw;
            }
            finally
            {
                _timeouts?.Disarm();
            }

            if (LeaveWait())
            {
                ThrowAborted();
            }

            // The timer and the user share the pipe's one cancellation flag: a user's request wins, so a timer that fired just
            // as data arrived (its cancellation left pending) cannot swallow it.
            bool userCanceled = result.IsCanceled && Interlocked.Exchange(ref _userCanceled, 0) != 0;
            bool timerCanceled = result.IsCanceled && !userCanceled && _timeouts != null && _timeouts.TakeFired();
            _timeouts?.OnReadCompleted();
            SetBuffer(result);
            if (result.IsCanceled && !timerCanceled)
            {
                return FrameReadResult.Canceled;
            }

            if (TryReadFrame(out Frame frame))
            {
                return new FrameReadResult(frame);
            }

            if (timerCanceled)
            {
                // Otherwise the timer fired late (a read had completed), or bytes arrived that keep the frame above the
                // minimum rate: wait again.
                ReadOnlySequence<byte> remaining = _buffer.Slice(CurrentPosition());
                if (_timeouts!.CheckExpired(_offset, remaining.Length, CopyHeader(remaining, _codec.MaxHeaderLength)) is FrameTimeoutException timeout)
                {
                    throw Fault(timeout);
                }
            }
        }
    }

    /// <summary>
    /// Waits for more bytes. With a header parsed and its payload still arriving, waits for the whole frame at once
    /// (<see cref="PipeReader.ReadAtLeastAsync"/>): one wake-up instead of one per segment, and a <see cref="Pipe"/> does not
    /// pause its writer below that size, so a frame larger than the pipe's pause threshold cannot deadlock.
    /// </summary>
    private ValueTask<ReadResult> ReadMoreAsync(CancellationToken cancellationToken)
        => WaitsForWholeFrame
            ? _reader.ReadAtLeastAsync((int)(_pendingHeaderLength + _pendingPayloadLength), cancellationToken)
            : _reader.ReadAsync(cancellationToken);

    /// <summary>A header is parsed and its frame's whole length fits an <see cref="int"/>: wait for all of it at once.</summary>
    private bool WaitsForWholeFrame => _pendingHeaderLength >= 0 && _pendingHeaderLength + _pendingPayloadLength <= int.MaxValue;

    private FrameReadResult Finish(long buffered)
    {
        if (buffered == 0)
        {
            // A clean end, unless the owner knows it was a transport failure (reported after the last frame, every time).
            return FaultObserver?.EndOfStreamFault() is Exception transportFault ? throw transportFault : FrameReadResult.Completed;
        }

        ReadOnlySequence<byte> remaining = _buffer.Slice(CurrentPosition());
        long expected = _pendingHeaderLength < 0 ? -1 : _pendingHeaderLength + _pendingPayloadLength;
        throw Fault(new FrameTruncatedException(buffered, expected, CopyHeader(remaining, _pendingHeaderLength < 0 ? _codec.MaxHeaderLength : _pendingHeaderLength)));
    }

    private void SetBuffer(in ReadResult result)
    {
        _buffer = result.Buffer;
        _hasBuffer = true;
        _isPipeCompleted = result.IsCompleted;
        SetPosition(_buffer.Start);
    }

    private void SetPosition(SequencePosition position)
    {
        _position = position;
        if (position.GetObject() is ReadOnlySequenceSegment<byte> segment)
        {
            int index = position.GetInteger();
            int end = ReferenceEquals(segment, _buffer.End.GetObject()) ? _buffer.End.GetInteger() : segment.Memory.Length;
            _segment = segment;
            _segmentIndex = index;
            _segmentEnd = end;
            _segmentMemory = segment.Memory;
            if (MemoryMarshal.TryGetArray(segment.Memory, out ArraySegment<byte> array))
            {
                _segmentArray = array.Array;
                _segmentArrayOffset = array.Offset;
            }
            else if (MemoryMarshal.TryGetMemoryManager(segment.Memory, out MemoryManager<byte>? manager, out int managerOffset, out _))
            {
                _segmentArray = null;
                _segmentManager = manager;
                _segmentManagerOffset = managerOffset;
            }
            else
            {
                // Neither (not possible for bytes today): slow path only.
                _segment = null;
            }
        }
        else
        {
            // Not a segment-based sequence (e.g. a custom PipeReader returning array-backed buffers): slow path only.
            _segment = null;
        }
    }

    /// <summary>The one place a reader fault is latched: the first fault is kept (later reads rethrow it), reported to the
    /// metrics and the owner, and the fast path is turned off.</summary>
    /// <returns><paramref name="ex"/>, for the caller to throw.</returns>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private Exception Fault(FrameException ex)
    {
        ex.SetStreamOffset(_offset);
        if (_fault == null)
        {
            FramingMetrics.Error(ex.Kind switch
            {
                FrameErrorKind.TooLarge => "too_large",
                FrameErrorKind.Truncated => "truncated",
                FrameErrorKind.Timeout => "timeout",
                _ => "malformed",
            });
            _fault = ExceptionDispatchInfo.Capture(ex);
            FaultObserver?.OnReaderFault(ex);
        }

        if (_segment != null)
        {
            _position = CurrentPosition();
            _segment = null;
        }

        _timeouts?.Dispose();
        return ex;
    }

    private static byte[] CopyHeader(in ReadOnlySequence<byte> remaining, int length)
    {
        long count = Math.Min(remaining.Length, Math.Max(length, 0));
        return remaining.Slice(0, count).ToArray();
    }

    private void CancelForTimer() => _reader.CancelPendingRead();
}
