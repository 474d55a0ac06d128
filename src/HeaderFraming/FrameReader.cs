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
using HeaderFraming.Codecs;
using HeaderFraming.Internal;

namespace HeaderFraming;

/// <summary>
/// Reads whole frames from a <see cref="PipeReader"/>. Each frame's header and payload are slices of the pipe's own buffers:
/// nothing is copied and nothing is allocated per frame.
/// </summary>
/// <remarks>
/// <para><b>Lifetime:</b> a frame is valid until the next call to <see cref="ReadFrameAsync(System.Threading.CancellationToken)"/> or <see cref="TryReadFrame(out Frame)"/>.</para>
/// <para>The reader decodes every complete frame already buffered before it asks the pipe for more, so
/// <see cref="ReadFrameAsync(System.Threading.CancellationToken)"/> completes synchronously whenever a frame is waiting. It parses each header once, checks
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
    private IFrameCodec _codec;
    private long _maxFrameLength;
    private readonly bool _skipOversizedFrames;

    // A codec that declares its length field (ILengthFieldCodec) is decoded inline: _layoutHeaderLength > 0. Set by
    // ApplyCodec (the codec can change between frames).
    private int _layoutHeaderLength;
    private int _layoutFieldOffset;
    private int _layoutFieldWidth;
    private LengthFieldKind _layoutKind;
    private bool _layoutAlwaysValid;
    private long _layoutAdjustment;
    private LengthFieldLayout? _layout;

    // 4 or 2 when the layout is a plain big-endian prefix (offset 0, the whole header, no adjustment: Kafka, DNS), the
    // commonest shape, and 10 for the seed's 10-byte left-aligned ASCII header: decoded with no lookups at all; 0 otherwise.
    private int _plainPrefixWidth;

    // The codec's fixed trailer (IFrameTrailerCodec), checked by the slow path only; null and 0 for every other codec.
    private byte[]? _trailer;
    private int _trailerLength;

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

    // The stream offset up to which the pipe was last told the bytes were examined (by a wait): a connection's TryReadFrame
    // examines no further when it takes the bytes received since.
    private long _examinedOffset;

    // Whether the meter listens, asked once per buffer taken from the pipe (as FrameWriter asks once per buffer it fills)
    // instead of per frame: the question is three instruments' subscription lists, nine loads.
    private bool _recordMetrics;

    // The frame that ReadFrameAsync returned last (frame number _framesRead), taken apart into Frame's own fields (stored and
    // loaded one by one: a whole-struct copy would load them with wide loads right after these narrow stores, a store-
    // forwarding stall per frame). A frame of the fast path (InSegment) ends where the reader's position is, in
    // _segmentArray, at _offset: only its length and header are stored, and no reference (no GC write barrier per frame),
    // until the position moves to another segment. Any other is Stored whole. None once the frame's memory may be gone (a
    // wait, a raw read, a detach, a complete).
    private const byte ResultNone = 0;
    private const byte ResultInSegment = 1;
    private const byte ResultStored = 2;
    private byte _resultKind;
    private object? _resultStart;
    private long _resultStreamOffset;
    private long _resultLength;
    private int _resultStartIndex;
    private int _resultHeaderAndKind;

    // A parsed header whose payload has not fully arrived yet (tokio's DecodeState::Data); Skipping while an oversized
    // frame is being discarded (which also keeps the fast path away from its bytes).
    private int _pendingHeaderLength = -1;
    private long _pendingPayloadLength;
    private const int Skipping = int.MaxValue;

    // Oversized frames discarded (FrameReaderOptions.SkipOversizedFrames); while Skipping, _pendingPayloadLength counts
    // the bytes of the current one still to be discarded as they arrive.
    private long _framesSkipped;

    // Detach handed the pipe back: every later read throws.
    private bool _detached;

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
        if (codec is null)
        {
            throw new ArgumentNullException(nameof(codec));
        }

        options ??= FrameReaderOptions.Default;
        _maxFrameLength = options.MaxFrameLength;
        _skipOversizedFrames = options.SkipOversizedFrames;
        _codec = codec;
        ApplyCodec(codec);
        _timeouts = ReadTimeouts.Create(options, CancelForTimer);
    }

    /// <summary>The header format of the next frames. Setting it switches the framing at the next frame boundary: the bytes
    /// after the last frame returned (buffered or not) are decoded with the new codec; nothing is lost or read twice.</summary>
    /// <remarks>Every read returns whole frames, so the reader is always at a frame boundary between reads. A header the
    /// reader had parsed while its payload arrived (a read cancelled mid-frame) is parsed again with the new codec.</remarks>
    /// <exception cref="ArgumentNullException">The value is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">The codec's <see cref="IFrameCodec.MaxHeaderLength"/> is out of range, or it
    /// declares a null <see cref="ILengthFieldCodec.LengthField"/> or an empty <see cref="IFrameTrailerCodec.Trailer"/>.</exception>
    /// <exception cref="InvalidOperationException">A read is pending.</exception>
    public IFrameCodec Codec
    {
        get => _codec;
        set
        {
            if (value is null)
            {
                throw new ArgumentNullException(nameof(value));
            }

            ThrowIfReadPending();
            ApplyCodec(value);
        }
    }

    /// <summary>The largest payload accepted, in bytes (the header, and a trailer, not counted); starts as
    /// <see cref="FrameReaderOptions.MaxFrameLength"/>. Changeable between reads, for a limit the peer negotiates (HTTP/2's
    /// <c>SETTINGS_MAX_FRAME_SIZE</c>): the next header is checked against the new value.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is negative or above 2^62.</exception>
    /// <exception cref="InvalidOperationException">A read is pending.</exception>
    public long MaxFrameLength
    {
        get => _maxFrameLength;
        set
        {
            FrameReaderOptions.ValidateMaxFrameLength(value);
            ThrowIfReadPending();
            _maxFrameLength = value;
            ForgetParsedHeader();
        }
    }

    /// <summary>How many oversized frames were discarded (<see cref="FrameReaderOptions.SkipOversizedFrames"/>).</summary>
    public long FramesSkipped => Volatile.Read(ref _framesSkipped);

    /// <summary>The stream offset of the next frame: how many bytes of whole frames this reader has returned.</summary>
    public long Position => _offset;

    /// <summary>Takes a codec's shape into the fields the hot path reads: the one place they are set.</summary>
    private void ApplyCodec(IFrameCodec codec)
    {
        if ((uint)codec.MaxHeaderLength > Frame.MaxHeaderLength)
        {
            ThrowHelper.ThrowArgument(nameof(codec), $"The codec's MaxHeaderLength ({codec.MaxHeaderLength}) is not between 0 and {Frame.MaxHeaderLength} bytes.");
        }

        LengthFieldLayout? layout = null;
        if (codec is ILengthFieldCodec lengthFieldCodec)
        {
            layout = lengthFieldCodec.LengthField ?? throw new ArgumentException("The codec's LengthField is null.", nameof(codec));
        }

        byte[]? trailer = null;
        if (codec is IFrameTrailerCodec trailerCodec)
        {
            trailer = trailerCodec.Trailer.ToArray();
            if (trailer.Length == 0)
            {
                ThrowHelper.ThrowArgument(nameof(codec), "The codec's Trailer is empty.");
            }
        }

        _codec = codec;
        _trailer = trailer;
        _trailerLength = trailer?.Length ?? 0;

        // A trailer is checked by the slow path: a codec with one is never decoded inline.
        if (layout != null && trailer == null)
        {
            _layout = layout;
            _layoutHeaderLength = layout.HeaderLength;
            _layoutFieldOffset = layout.FieldOffset;
            _layoutFieldWidth = layout.FieldWidth;
            _layoutKind = layout.Kind;
            _layoutAlwaysValid = layout.AlwaysValid;
            _layoutAdjustment = layout.Adjustment;
            _plainPrefixWidth = layout is { Kind: LengthFieldKind.UInt32BigEndian or LengthFieldKind.UInt16BigEndian or LengthFieldKind.AsciiLeft10, FieldOffset: 0, Adjustment: 0 }
                    && layout.HeaderIsField && (layout.Kind != LengthFieldKind.AsciiLeft10 || AsciiDigits.ReadsWordAtATime)
                ? layout.FieldWidth
                : 0;
        }
        else
        {
            _layout = null;
            _layoutHeaderLength = 0;
            _plainPrefixWidth = 0;
        }

        ForgetParsedHeader();
    }

    /// <summary>Forgets a header parsed while its payload arrives, so that the next read parses it again (with a new codec or
    /// limit); its bytes were never consumed. An oversized frame being discarded is not a parsed header: it stays discarded.</summary>
    private void ForgetParsedHeader()
    {
        if (_pendingHeaderLength != Skipping)
        {
            _pendingHeaderLength = -1;
        }
    }

    internal void ThrowIfReadPending()
    {
        if (Volatile.Read(ref _waitState) == Waiting)
        {
            ThrowHelper.ThrowInvalidOperation("A read is pending: change the reader's codec or limit between reads.");
        }
    }

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
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ValueTask<FrameReadResult> ReadFrameAsync(CancellationToken cancellationToken = default)
    {
        // The hot path builds the result straight from its parts: going through a Frame local (an out parameter) makes the
        // JIT copy it with wide loads right after narrow stores, which stalls store forwarding several times per frame.
        byte[]? array = _segmentArray;
        if (array != null && _segment != null && TryDecodeContiguous(out int index, out int headerLength, out int payloadLength))
        {
            int length = headerLength + payloadLength;
            // Where it lies follows from the reader's position, which stays put until the next read: three stores.
            _resultKind = ResultInSegment;
            _resultLength = length;
            _resultHeaderAndKind = Frame.ArrayHeaderAndKind(headerLength);
            return new ValueTask<FrameReadResult>(new FrameReadResult(this, _framesRead));
        }

        return ReadFrameSlowAsync(cancellationToken);
    }

    /// <summary>A read's frame becomes the one its result lends out.</summary>
    private FrameReadResult Result(in Frame frame)
    {
        _resultKind = ResultStored;
        _resultStart = frame.Start;
        _resultStreamOffset = frame.StreamOffset;
        _resultLength = frame.Length;
        _resultStartIndex = frame.StartIndex;
        _resultHeaderAndKind = frame.HeaderAndKind;
        return new FrameReadResult(this, _framesRead);
    }

    /// <summary>The frame of a <see cref="FrameReadResult"/>: the last one <see cref="ReadFrameAsync(System.Threading.CancellationToken)"/>
    /// returned, while its memory is still lent.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal Frame ResultFrame(long frameNumber)
    {
        int kind = _resultKind;
        if (frameNumber != _framesRead || kind == ResultNone)
        {
            ThrowStaleResult(frameNumber);
        }

        long length = _resultLength;
        return kind == ResultInSegment
            ? new Frame(_segmentArray, _segmentArrayOffset + _segmentIndex - (int)length, length, _resultHeaderAndKind, _offset - length)
            : new Frame(_resultStart, _resultStartIndex, length, _resultHeaderAndKind, _resultStreamOffset);
    }

    /// <summary>Forgets the frame lent to the last result: its memory is about to go back to the pipe.</summary>
    private void InvalidateResult()
    {
        _resultKind = ResultNone;
        _resultStart = null;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ThrowStaleResult(long frameNumber)
        => ThrowHelper.ThrowInvalidOperation(string.Format(
            System.Globalization.CultureInfo.InvariantCulture,
            "The FrameReadResult of frame {0:N0} is no longer valid: the reader has {1} since, so the frame's memory may have been reused. Copy what you keep (frame.Payload.ToArray()) before the next read.",
            frameNumber,
            frameNumber != _framesRead ? "returned frame " + _framesRead.ToString("N0", System.Globalization.CultureInfo.InvariantCulture) : "waited for bytes, read raw bytes, moved on to another buffer, detached or completed"));

    /// <summary>Every other case of <see cref="ReadFrameAsync(System.Threading.CancellationToken)"/>: a frame in non-array memory or split across segments,
    /// and the waits.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private ValueTask<FrameReadResult> ReadFrameSlowAsync(CancellationToken cancellationToken)
    {
        if (TryReadFrame(out Frame frame))
        {
            return new ValueTask<FrameReadResult>(Result(frame));
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
    /// <see cref="ReadFrameAsync(System.Threading.CancellationToken)"/> (or <see cref="TryReadFrame(out Frame)"/>) returns it, since they handle every frame.
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
    /// A connection's <see cref="TryReadFrame(out Frame)"/>: when no whole frame is buffered here, takes what the pipe holds
    /// without waiting (<see cref="PipeReader.TryRead"/>) and tries again, so that every frame among the bytes the transport
    /// has received comes out. (The public <see cref="TryReadFrame(out Frame)"/> never touches the pipe: a hot drain loop
    /// would pay for a pipe read per batch that finds nothing.)
    /// </summary>
    internal bool TryReadReceivedFrame(out Frame frame)
        => TryReadFrame(out frame) || (TryPull() && TryReadFrame(out frame));

    /// <summary>The span form of <see cref="TryReadReceivedFrame(out Frame)"/>.</summary>
    internal bool TryReadReceivedFrame(out ReadOnlySpan<byte> header, out ReadOnlySpan<byte> payload)
    {
        if (TryReadFrame(out header, out payload))
        {
            return true;
        }

        return TryPull() && TryReadFrame(out header, out payload);
    }

    /// <summary>
    /// Takes what the pipe holds now, without waiting: the unconsumed bytes kept here and any that the pipe's writer has
    /// added since. <see langword="false"/> when a read is pending (the pipe has one reader), the pipe has ended or it
    /// holds nothing new.
    /// </summary>
    /// <remarks>Only for a <see cref="Pipe"/> (a connection's own). The examined position stays where the last wait left
    /// it: a <see cref="Pipe"/> counts only unexamined bytes, for <c>TryRead</c> and for a later <c>ReadAtLeastAsync</c>,
    /// so marking more examined would hide a frame that is already there from the wait for it, and System.IO.Pipelines 8
    /// refuses an examined position that moves back.</remarks>
    private bool TryPull()
    {
        ThrowIfFaultedOrDetached();

        // Marked as a wait while it uses the pipe, so that a connection's dispose on another thread (AbortAsync) leaves the
        // pipe to it and it completes the reader, as a wait does.
        if (_isPipeCompleted || Interlocked.CompareExchange(ref _waitState, Waiting, NotWaiting) != NotWaiting)
        {
            return false;
        }

        bool grew;
        try
        {
            grew = PullFromPipe();
        }
        catch
        {
            if (LeaveWait())
            {
                ThrowAborted();
            }

            throw;
        }

        if (LeaveWait())
        {
            ThrowAborted();
        }

        return grew;
    }

    /// <summary>The pipe's part of <see cref="TryPull"/>.</summary>
    private bool PullFromPipe()
    {
        long buffered = 0;
        if (_hasBuffer)
        {
            buffered = HeldBytes;
            GiveBackBuffer(buffered, examineAll: false);
        }

        bool ownCancellation = false;
        if (!_reader.TryRead(out ReadResult result))
        {
            if (buffered != 0)
            {
                // Every byte held was examined by the last wait (a wait cancelled before more came), so TryRead does not
                // return them again: take them back with a cancellation of our own, since a cancelled read returns the buffer.
                ownCancellation = true;
                _reader.CancelPendingRead();
            }

            if (!ownCancellation || !_reader.TryRead(out result))
            {
                // Nothing at all after the consumed position.
                return false;
            }
        }

        if (result.IsCanceled && (!ownCancellation || Volatile.Read(ref _userCanceled) != 0 || _timeouts?.HasFired == true))
        {
            // TryRead took a cancellation that was pending for the next wait (the user's CancelPendingRead, a timer's):
            // leave it pending, so that the wait still returns it and EndWait still decides whose it was.
            _reader.CancelPendingRead();
        }

        SetBuffer(result);
        bool grew = result.Buffer.Length > buffered;
        if (grew)
        {
            // The new bytes came now: a frame they start is timed from here, not from the bytes of the last wait.
            _timeouts?.OnReadCompleted();
        }

        return grew;
    }

    /// <summary>
    /// Reads one frame with <paramref name="codec"/> instead of <see cref="Codec"/>, which applies again to the reads after
    /// it: a startup message framed differently from the messages after it, a PROXY protocol header.
    /// </summary>
    /// <param name="codec">The header format of this one frame.</param>
    /// <param name="cancellationToken">As for <see cref="ReadFrameAsync(CancellationToken)"/>.</param>
    /// <returns>As <see cref="ReadFrameAsync(CancellationToken)"/>.</returns>
    /// <exception cref="ArgumentException">The codec is not usable (see <see cref="Codec"/>).</exception>
    /// <exception cref="FrameException">As for <see cref="ReadFrameAsync(CancellationToken)"/>.</exception>
    public ValueTask<FrameReadResult> ReadFrameAsync(IFrameCodec codec, CancellationToken cancellationToken = default)
    {
        if (codec is null)
        {
            throw new ArgumentNullException(nameof(codec));
        }

        IFrameCodec previous = _codec;
        if (ReferenceEquals(codec, previous))
        {
            return ReadFrameAsync(cancellationToken);
        }

        ThrowIfReadPending();
        ApplyCodec(codec);
        ValueTask<FrameReadResult> read;
        try
        {
            read = ReadFrameAsync(cancellationToken);
        }
        catch
        {
            ApplyCodec(previous);
            throw;
        }

        if (read.IsCompleted)
        {
            ApplyCodec(previous);
            return read;
        }

        return RestoreCodecAfterAsync(read, previous);
    }

    private async ValueTask<FrameReadResult> RestoreCodecAfterAsync(ValueTask<FrameReadResult> read, IFrameCodec previous)
    {
        try
        {
            return await read.ConfigureAwait(false);
        }
        finally
        {
            ApplyCodec(previous);
        }
    }

    /// <summary>
    /// Reads exactly <paramref name="count"/> raw bytes, in order with the frames: the bytes after the last frame returned,
    /// not decoded (HTTP/2's connection preface, AMQP's protocol header, a one-byte reply). The frames after them are
    /// decoded with <see cref="Codec"/>.
    /// </summary>
    /// <param name="count">How many bytes; 0 returns an empty sequence at once.</param>
    /// <param name="cancellationToken">Cancels the wait; nothing is consumed.</param>
    /// <returns>The bytes, slices of the pipe's buffers, valid until the next read.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="count"/> is negative.</exception>
    /// <exception cref="FrameTruncatedException">The stream ended before <paramref name="count"/> bytes arrived.</exception>
    /// <exception cref="FrameTimeoutException">A timeout of <see cref="FrameReaderOptions"/> expired.</exception>
    /// <exception cref="OperationCanceledException">The wait was cancelled (by the token or <see cref="CancelPendingRead"/>).</exception>
    public ValueTask<ReadOnlySequence<byte>> ReadExactlyAsync(int count, CancellationToken cancellationToken = default)
    {
        if (count < 0)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(count), count, "The count of bytes to read cannot be negative.");
        }

        return ReadRawAsync(new RawRead(RawReadKind.Exactly, count, default), cancellationToken);
    }

    /// <summary>
    /// Reads raw bytes up to and including <paramref name="delimiter"/>, in order with the frames: a text preamble such as
    /// the PROXY protocol v1 line (<c>PROXY TCP4 … \r\n</c>, at most 107 bytes).
    /// </summary>
    /// <param name="delimiter">The bytes that end the preamble; not empty.</param>
    /// <param name="maxLength">The most bytes the preamble may take, delimiter included: a peer that sends more without the
    /// delimiter faults the reader instead of making it buffer without bound.</param>
    /// <param name="cancellationToken">Cancels the wait; nothing is consumed.</param>
    /// <returns>The bytes, delimiter included, valid until the next read.</returns>
    /// <exception cref="FrameFormatException">No delimiter within <paramref name="maxLength"/> bytes (the message shows them).</exception>
    /// <exception cref="FrameTruncatedException">The stream ended before the delimiter.</exception>
    /// <exception cref="OperationCanceledException">The wait was cancelled.</exception>
    public ValueTask<ReadOnlySequence<byte>> ReadUntilAsync(ReadOnlyMemory<byte> delimiter, int maxLength, CancellationToken cancellationToken = default)
    {
        if (delimiter.IsEmpty)
        {
            ThrowHelper.ThrowArgument(nameof(delimiter), "The delimiter cannot be empty.");
        }

        if (maxLength < delimiter.Length)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(maxLength), maxLength, "The maximum length must leave room for the delimiter.");
        }

        return ReadRawAsync(new RawRead(RawReadKind.Until, maxLength, delimiter), cancellationToken);
    }

    /// <summary>
    /// Returns the next <paramref name="count"/> bytes without consuming them (fewer only if the stream ends first): to tell
    /// which framing comes next (a PROXY protocol signature or not, a TLS ClientHello or plain text).
    /// </summary>
    /// <param name="count">How many bytes to look at.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The bytes, valid until the next read; the next read returns them again.</returns>
    /// <exception cref="OperationCanceledException">The wait was cancelled.</exception>
    public ValueTask<ReadOnlySequence<byte>> PeekAsync(int count, CancellationToken cancellationToken = default)
    {
        if (count < 0)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(count), count, "The count of bytes to peek cannot be negative.");
        }

        return ReadRawAsync(new RawRead(RawReadKind.Peek, count, default), cancellationToken);
    }

    /// <summary>
    /// Stops framing and hands the pipe back at the frame boundary: the bytes after the last frame returned stay unconsumed
    /// in the pipe, so whoever reads it next (another <see cref="FrameReader"/>, a TLS layer, another
    /// protocol) gets every one of them, none twice. The frame reader cannot be used afterwards; the pipe is not completed.
    /// </summary>
    /// <remarks>Bytes that the last wait examined (the start of a frame it waited to complete) stay examined: with
    /// System.IO.Pipelines before 10, which cannot move an examined position back, a <see cref="Pipe"/>'s next
    /// <c>ReadAsync</c> returns them together with the next byte that arrives, not before. Detach at a frame boundary
    /// after a frame was returned and there are none.</remarks>
    /// <returns>The pipe reader the frame reader was created with.</returns>
    /// <exception cref="InvalidOperationException">A read is pending.</exception>
    public PipeReader Detach()
    {
        ThrowIfReadPending();
        ReleaseBuffer();
        _detached = true;
        _timeouts?.Dispose();
        return _reader;
    }

    /// <summary>
    /// A connection's detach, after its receive loop ended: takes every byte after the last frame returned (buffered here and
    /// still in the pipe) as one copy, completes the pipe reader, and detaches.
    /// </summary>
    internal byte[] DetachUnconsumed()
    {
        // Copied first: bytes a wait examined are not returned by TryRead again unless more came after them.
        byte[] unconsumed = _hasBuffer ? _buffer.Slice(CurrentPosition()).ToArray() : Array.Empty<byte>();
        Detach();
        if (_reader.TryRead(out ReadResult result))
        {
            unconsumed = result.Buffer.ToArray();
            _reader.AdvanceTo(result.Buffer.End);
        }

        _reader.Complete();
        return unconsumed;
    }

    /// <summary>Gives the last buffer back to the pipe, consuming only what was returned and examining no more than the last
    /// wait did.</summary>
    private void ReleaseBuffer()
    {
        if (_hasBuffer)
        {
            GiveBackBuffer(HeldBytes, examineAll: false);
        }

        ForgetParsedHeader();
    }

    /// <summary>The bytes of the buffer after the consumed position (the next frame's start).</summary>
    private long HeldBytes => _buffer.Slice(CurrentPosition()).Length;

    /// <summary>
    /// The one place the buffer goes back to the pipe (a wait, a pull, a detach, the end): consumes what was returned and
    /// marks examined either all of it (<paramref name="examineAll"/>: a wait for any new byte, or the end) or exactly
    /// what the last wait examined. No more: a <see cref="Pipe"/> counts only unexamined bytes, for <c>TryRead</c> and for
    /// <c>ReadAtLeastAsync</c>, so bytes held would be hidden from the next read. No less: System.IO.Pipelines 8 refuses
    /// an examined position that moves back.
    /// </summary>
    /// <param name="held">The bytes after the consumed position (<see cref="HeldBytes"/>).</param>
    /// <param name="examineAll">Whether every byte held counts as examined.</param>
    private void GiveBackBuffer(long held, bool examineAll)
    {
        SequencePosition consumed = CurrentPosition();
        long examinedAhead = examineAll ? held : Math.Min(Math.Max(_examinedOffset - _offset, 0), held);
        SequencePosition examined = examineAll ? _buffer.End : examinedAhead == 0 ? consumed : _buffer.GetPosition(examinedAhead, consumed);
        _hasBuffer = false;
        _segment = null;
        InvalidateResult();
        _reader.AdvanceTo(consumed, examined);
        _examinedOffset = _offset + examinedAhead;
    }

    private enum RawReadKind : byte
    {
        Exactly,
        Until,
        Peek,
    }

    private readonly struct RawRead(RawReadKind kind, int count, ReadOnlyMemory<byte> delimiter)
    {
        public RawReadKind Kind { get; } = kind;

        public int Count { get; } = count;

        public ReadOnlyMemory<byte> Delimiter { get; } = delimiter;
    }

    private ValueTask<ReadOnlySequence<byte>> ReadRawAsync(RawRead read, CancellationToken cancellationToken)
    {
        ThrowIfFaultedOrDetached();
        ThrowIfReadPending();
        InvalidateResult();
        if (TryReadRaw(read, out ReadOnlySequence<byte> bytes))
        {
            return new ValueTask<ReadOnlySequence<byte>>(bytes);
        }

        return ReadRawCoreAsync(read, cancellationToken);
    }

#if NET
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
#endif
    private async ValueTask<ReadOnlySequence<byte>> ReadRawCoreAsync(RawRead read, CancellationToken cancellationToken)
    {
        while (true)
        {
            long buffered = _hasBuffer ? HeldBytes : 0;
            if (_hasBuffer && _isPipeCompleted)
            {
                ReadOnlySequence<byte> remaining = _buffer.Slice(CurrentPosition());
                if (read.Kind == RawReadKind.Peek)
                {
                    return remaining;
                }

                throw Fault(new FrameTruncatedException(buffered, read.Kind == RawReadKind.Exactly ? read.Count : -1, CopyHeader(remaining, 64)));
            }

            // A skip in progress is waited out first; then Exactly and Peek wait for their count, Until for any new byte.
            int minimum = _pendingHeaderLength == Skipping || read.Kind == RawReadKind.Until ? 0 : read.Count;
            ReadResult result;
            try
            {
                result = await BeginWait(minimum, buffered, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                OnWaitFailed();
                throw;
            }

            WaitOutcome outcome = EndWait(result);
            if (outcome == WaitOutcome.Canceled)
            {
                cancellationToken.ThrowIfCancellationRequested();
                throw new OperationCanceledException("The read was cancelled by CancelPendingRead.");
            }

            if (TryReadRaw(read, out ReadOnlySequence<byte> bytes))
            {
                return bytes;
            }

            if (outcome == WaitOutcome.TimerFired)
            {
                ThrowIfTimedOut();
            }
        }
    }

    /// <summary>Serves a raw read from what is buffered, if it can; consumes the bytes it returns (but for a peek).</summary>
    private bool TryReadRaw(in RawRead read, out ReadOnlySequence<byte> bytes)
    {
        bytes = default;
        if (!_hasBuffer)
        {
            return read.Kind != RawReadKind.Until && read.Count == 0;
        }

        if (_pendingHeaderLength == Skipping && !SkipDiscarded())
        {
            return false;
        }

        ReadOnlySequence<byte> remaining = _buffer.Slice(CurrentPosition());
        switch (read.Kind)
        {
            case RawReadKind.Peek:
                if (remaining.Length < read.Count)
                {
                    return false;
                }

                bytes = remaining.Slice(0, read.Count);
                return true;
            case RawReadKind.Exactly:
                if (remaining.Length < read.Count)
                {
                    return false;
                }

                bytes = remaining.Slice(0, read.Count);
                break;
            default:
                long end = IndexOf(remaining.Length > read.Count ? remaining.Slice(0, read.Count) : remaining, read.Delimiter.Span);
                if (end < 0)
                {
                    if (remaining.Length >= read.Count)
                    {
                        throw Fault(new FrameFormatException(
                            string.Format(System.Globalization.CultureInfo.InvariantCulture, "no delimiter ({0}) in the first {1:N0} bytes of the preamble",
                                HeaderFormatter.Escape(read.Delimiter.Span), read.Count),
                            CopyHeader(remaining, Math.Min(read.Count, 64))));
                    }

                    return false;
                }

                bytes = remaining.Slice(0, end + read.Delimiter.Length);
                break;
        }

        _offset += bytes.Length;
        ForgetParsedHeader();
        SetPosition(bytes.End);
        return true;
    }

    /// <summary>The offset of the first whole <paramref name="delimiter"/> in <paramref name="source"/>, or -1.</summary>
    private static long IndexOf(ReadOnlySequence<byte> source, ReadOnlySpan<byte> delimiter)
    {
        if (source.IsSingleSegment)
        {
            return source.First.Span.IndexOf(delimiter);
        }

        long skipped = 0;
        Span<byte> candidate = delimiter.Length <= 64 ? stackalloc byte[delimiter.Length] : new byte[delimiter.Length];
        while (source.PositionOf(delimiter[0]) is SequencePosition start)
        {
            ReadOnlySequence<byte> rest = source.Slice(start);
            long offset = skipped + (source.Length - rest.Length);
            if (rest.Length < delimiter.Length)
            {
                return -1;
            }

            rest.Slice(0, delimiter.Length).CopyTo(candidate);
            if (candidate.SequenceEqual(delimiter))
            {
                return offset;
            }

            source = rest.Slice(1);
            skipped = offset + 1;
        }

        return -1;
    }

    private void ThrowIfFaultedOrDetached()
    {
        _fault?.Throw();
        if (_detached)
        {
            ThrowHelper.ThrowInvalidOperation("The frame reader was detached: its pipe belongs to its new reader.");
        }
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
        if (_pendingHeaderLength >= 0)
        {
            goto NotWhole;
        }

        // Every branch that cannot decode jumps to NotWhole, so that a decoded header goes on with no flag to set and test
        // (the JIT materialises such a flag with setcc and tests it again after the branches merge).
        ReadOnlySpan<byte> span = CurrentSegmentSpan().Slice(index);
        long payload;
        if (_plainPrefixWidth == 4)
        {
            if (span.Length < 4)
            {
                goto NotWhole;
            }

            headerLength = 4;
            payload = BinaryPrimitives.ReadUInt32BigEndian(span);
        }
        else if (_plainPrefixWidth == AsciiDecimalCodec.DefaultWidth)
        {
            // The seed's 10-byte ASCII header (tested before the 2-byte prefix: the library's reference format): one to
            // eight digits eight bytes at a time. Anything else (a bad header, a length of nine digits or more, fewer than
            // 10 bytes) is AsciiDigits.Invalid, which the length limit below refuses, so it goes to the slow path (which
            // reads it through the codec) with no branch of its own.
            headerLength = AsciiDecimalCodec.DefaultWidth;
            payload = (long)AsciiDigits.ReadLeft10Short(span);
        }
        else if (_plainPrefixWidth == 2)
        {
            if (span.Length < 2)
            {
                goto NotWhole;
            }

            headerLength = 2;
            payload = BinaryPrimitives.ReadUInt16BigEndian(span);
        }
        else if (_layoutHeaderLength != 0)
        {
            headerLength = _layoutHeaderLength;
            if (span.Length < headerLength)
            {
                goto NotWhole;
            }

            ulong field = LengthFieldLayout.ReadField(_layoutKind, span.Slice(_layoutFieldOffset), _layoutFieldWidth);
            if (_layoutAlwaysValid)
            {
                payload = (long)field + _layoutAdjustment;
            }
            else
            {
                // Through a local of its own: an out argument makes a local live in memory, and payload is on the hot path.
                if (!_layout!.TryAdjust(field, out long adjusted))
                {
                    goto NotWhole;
                }

                payload = adjusted;
            }
        }
        else
        {
            // A codec with a trailer is left to the slow path, which checks the trailer. (Locals of their own for the out
            // arguments, which would otherwise keep headerLength and payload in memory on every path.)
            if (_codec.DecodeHeader(span, out int codecHeaderLength, out long codecPayload) != OperationStatus.Done || _trailerLength != 0)
            {
                goto NotWhole;
            }

            headerLength = codecHeaderLength;
            payload = codecPayload;
        }

        // Unsigned, so that a negative length (AsciiDigits.Invalid among them) is over the limit; the slow path reports it.
        if ((ulong)payload <= (ulong)_maxFrameLength)
        {
            if (payload <= span.Length - headerLength)
            {
                payloadLength = (int)payload;
                _segmentIndex = index + headerLength + payloadLength;
                CompleteFrame(headerLength, payloadLength);
                return true;
            }

            // The payload runs past this segment: remember the header so it is parsed only once.
            _pendingHeaderLength = headerLength;
            _pendingPayloadLength = payload;
        }

    NotWhole:
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
        if (_recordMetrics)
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
    /// <remarks>Ends when the stream ends between frames; throws the same exceptions as <see cref="ReadFrameAsync(System.Threading.CancellationToken)"/>.
    /// A cancelled read (<see cref="CancelPendingRead"/>) ends the enumeration too. A frame already buffered is returned
    /// synchronously, without an async state machine; one enumerator is allocated per call.</remarks>
    public System.Collections.Generic.IAsyncEnumerable<Frame> ReadAllAsync(CancellationToken cancellationToken = default)
        => new FrameEnumerable(this, cancellationToken);

    /// <summary>Makes the pending (or next) <see cref="ReadFrameAsync(System.Threading.CancellationToken)"/> return <see cref="FrameReadResult.IsCanceled"/> without consuming anything.</summary>
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
    /// <remarks>A wait that failed before it began (its pipe reader threw in <c>AdvanceTo</c>) finds the state still
    /// NotWaiting: that is not an abort, and its own exception goes up.</remarks>
    private bool LeaveWait() => Interlocked.CompareExchange(ref _waitState, NotWaiting, Waiting) == Aborted;

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
        InvalidateResult();
        if (_hasBuffer)
        {
            GiveBackBuffer(HeldBytes, examineAll: true);
        }

        _reader.Complete(exception);
    }

    private bool TryReadFrameSlow(out Frame frame)
    {
        ThrowIfFaultedOrDetached();
        frame = default;
        while (_hasBuffer)
        {
            if (_pendingHeaderLength == Skipping && !SkipDiscarded())
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
                    if (!_skipOversizedFrames)
                    {
                        throw Fault(new FrameTooLargeException(payloadLength, _maxFrameLength, CopyHeader(remaining, headerLength)));
                    }

                    StartSkipping(headerLength + payloadLength + _trailerLength);
                    continue;
                }

                _pendingHeaderLength = headerLength;
                _pendingPayloadLength = payloadLength;
            }

            if (remaining.Length - headerLength - _trailerLength < payloadLength)
            {
                return false;
            }

            ReadOnlySequence<byte> whole = remaining.Slice(0, headerLength + payloadLength);
            SequencePosition end = whole.End;
            if (_trailerLength != 0)
            {
                ReadOnlySequence<byte> trailer = remaining.Slice(whole.End, _trailerLength);
                if (!TrailerMatches(trailer))
                {
                    throw Fault(BadTrailer(remaining, headerLength, payloadLength, trailer));
                }

                end = trailer.End;
            }

            frame = Frame.FromSequence(whole, headerLength, _offset);
            CompleteFrame(headerLength, payloadLength);
            _offset += _trailerLength;
            SetPosition(end);
            return true;
        }

        return false;
    }

    /// <summary>Starts discarding an oversized frame of <paramref name="length"/> bytes (trailer included).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void StartSkipping(long length)
    {
        _pendingHeaderLength = Skipping;
        _pendingPayloadLength = length;
        Interlocked.Increment(ref _framesSkipped);
        FramingMetrics.FrameSkipped();
    }

    /// <summary>Discards what is buffered of the frame being skipped; <see langword="true"/> once all of it is gone. The
    /// discarded bytes count as consumed, so the pipe frees them at the next wait.</summary>
    private bool SkipDiscarded()
    {
        Debug.Assert(_pendingHeaderLength == Skipping);
        ReadOnlySequence<byte> remaining = _buffer.Slice(CurrentPosition());
        long count = Math.Min(remaining.Length, _pendingPayloadLength);
        SetPosition(remaining.GetPosition(count));
        _offset += count;
        _pendingPayloadLength -= count;
        if (_pendingPayloadLength != 0)
        {
            return false;
        }

        _pendingHeaderLength = -1;
        return true;
    }

    private bool TrailerMatches(in ReadOnlySequence<byte> trailer)
    {
        if (trailer.IsSingleSegment)
        {
            return trailer.First.Span.SequenceEqual(_trailer);
        }

        Span<byte> copy = _trailerLength <= 64 ? stackalloc byte[_trailerLength] : new byte[_trailerLength];
        trailer.CopyTo(copy);
        return copy.SequenceEqual(_trailer);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private FrameFormatException BadTrailer(in ReadOnlySequence<byte> remaining, int headerLength, long payloadLength, in ReadOnlySequence<byte> trailer)
        => new FrameFormatException(
            string.Format(
                System.Globalization.CultureInfo.InvariantCulture,
                "the frame's trailer (bytes {0:N0} to {1:N0} after the frame's start, after a payload of {2:N0} bytes) is {3}, expected {4}",
                headerLength + payloadLength,
                headerLength + payloadLength + _trailerLength - 1,
                payloadLength,
                HeaderFormatter.ToHex(trailer.ToArray()),
                HeaderFormatter.ToHex(_trailer!)),
            CopyHeader(remaining, headerLength));

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
                buffered = HeldBytes;
                if (_isPipeCompleted)
                {
                    return Finish(buffered);
                }
            }

            // With a header parsed and its payload still arriving, wait for the whole frame at once: one wake-up instead of
            // one per segment, and a Pipe does not pause its writer below that size, so a frame larger than the pipe's pause
            // threshold cannot deadlock.
            ReadResult result;
            try
            {
                result = await BeginWait(WaitsForWholeFrame ? (int)(_pendingHeaderLength + _pendingPayloadLength + _trailerLength) : 0, buffered, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                OnWaitFailed();
                throw;
            }

            WaitOutcome outcome = EndWait(result);
            if (outcome == WaitOutcome.Canceled)
            {
                return FrameReadResult.Canceled;
            }

            if (TryReadFrame(out Frame frame))
            {
                return Result(frame);
            }

            if (outcome == WaitOutcome.TimerFired)
            {
                ThrowIfTimedOut();
            }
        }
    }

    /// <summary>How a wait for bytes ended.</summary>
    private enum WaitOutcome
    {
        Data,
        Canceled,
        TimerFired,
    }

    /// <summary>
    /// Starts the one wait for bytes of every read: keeps what is buffered (consumed = the next frame's start), then either
    /// marks it all examined and waits for any new byte (<paramref name="minimumBytes"/> 0), or marks nothing examined and
    /// waits until <paramref name="minimumBytes"/> unconsumed bytes are there (a <see cref="Pipe"/> counts only unexamined
    /// bytes towards its minimum). Timeouts are armed meanwhile. The caller awaits the read in a try block, calls
    /// <see cref="OnWaitFailed"/> if it throws, and <see cref="EndWait"/> with its result. (Not an async method of its own:
    /// a nested state machine would resume through the caller's synchronization context on netstandard2.0.)
    /// </summary>
    private ValueTask<ReadResult> BeginWait(int minimumBytes, long buffered, CancellationToken cancellationToken)
    {
        if (minimumBytes > 0 && _examinedOffset > _offset)
        {
            // The last wait examined bytes after the consumed position (it waited for the rest of a header): a Pipe counts
            // only bytes after the examined ones towards a minimum, and System.IO.Pipelines 8 refuses an examined position
            // that moves back ("The examined position cannot be less than the previously examined position"). So this
            // wait takes any new byte, as that one did; the frame's next wait asks for the minimum.
            minimumBytes = 0;
        }

        if (_hasBuffer)
        {
            // With a minimum, the last wait examined nothing after the consumed position (see above): nothing is examined.
            GiveBackBuffer(buffered, examineAll: minimumBytes == 0);
        }

        if (Interlocked.CompareExchange(ref _waitState, Waiting, NotWaiting) != NotWaiting)
        {
            throw _abortException!;
        }

        _timeouts?.Arm(_offset, buffered);
        return minimumBytes > 0 ? _reader.ReadAtLeastAsync(minimumBytes, cancellationToken) : _reader.ReadAsync(cancellationToken);
    }

    /// <summary>A wait of <see cref="BeginWait"/> threw: a connection's abort becomes its exception.</summary>
    private void OnWaitFailed()
    {
        _timeouts?.Disarm();
        if (LeaveWait())
        {
            ThrowAborted();
        }
    }

    /// <summary>A wait of <see cref="BeginWait"/> completed: takes the new buffer and says why the wait ended.</summary>
    private WaitOutcome EndWait(in ReadResult result)
    {
        _timeouts?.Disarm();
        if (LeaveWait())
        {
            ThrowAborted();
        }

        // The timer and the user share the pipe's one cancellation flag, and a pipe returns every cancellation pending in it
        // as one cancelled read: this one answers both, so both flags are taken. A user's request wins, so a timer that fired
        // just as data arrived (its cancellation left pending) cannot swallow it; a timer's cancellation that lands in a
        // later wait is still the timer's, never returned to the user as IsCanceled.
        bool userCanceled = result.IsCanceled && Interlocked.Exchange(ref _userCanceled, 0) != 0;
        bool timerFired = result.IsCanceled && _timeouts != null && _timeouts.TakeFired();
        bool timerCanceled = timerFired && !userCanceled;
        _timeouts?.OnReadCompleted();
        SetBuffer(result);
        return timerCanceled ? WaitOutcome.TimerFired : result.IsCanceled ? WaitOutcome.Canceled : WaitOutcome.Data;
    }

    /// <summary>After the timer woke a wait that found no whole frame: throws if a timeout really expired. Otherwise the timer
    /// fired late (a read had completed), or bytes arrived that keep the frame above the minimum rate: the caller waits again.</summary>
    private void ThrowIfTimedOut()
    {
        ReadOnlySequence<byte> remaining = _buffer.Slice(CurrentPosition());
        if (_timeouts!.CheckExpired(_offset, remaining.Length, CopyHeader(remaining, _codec.MaxHeaderLength)) is FrameTimeoutException timeout)
        {
            throw Fault(timeout);
        }
    }

    /// <summary>A header is parsed and its frame's whole length fits an <see cref="int"/>: wait for all of it at once.</summary>
    private bool WaitsForWholeFrame => _pendingHeaderLength >= 0 && _pendingHeaderLength != Skipping && _pendingHeaderLength + _pendingPayloadLength + _trailerLength <= int.MaxValue;

    private FrameReadResult Finish(long buffered)
    {
        if (buffered == 0 && _pendingHeaderLength != Skipping)
        {
            // A clean end, unless the owner knows it was a transport failure (reported after the last frame, every time).
            return FaultObserver?.EndOfStreamFault() is Exception transportFault ? throw transportFault : FrameReadResult.Completed;
        }

        throw Fault(Truncated(buffered));
    }

    private FrameTruncatedException Truncated(long buffered)
    {
        ReadOnlySequence<byte> remaining = _buffer.Slice(CurrentPosition());
        if (_pendingHeaderLength == Skipping)
        {
            return new FrameTruncatedException(buffered, _pendingPayloadLength, default);
        }

        long expected = _pendingHeaderLength < 0 ? -1 : _pendingHeaderLength + _pendingPayloadLength + _trailerLength;
        return new FrameTruncatedException(buffered, expected, CopyHeader(remaining, _pendingHeaderLength < 0 ? _codec.MaxHeaderLength : _pendingHeaderLength));
    }

    private void SetBuffer(in ReadResult result)
    {
        _buffer = result.Buffer;
        _hasBuffer = true;
        _isPipeCompleted = result.IsCompleted;
        _recordMetrics = FramingMetrics.ReadEnabled;
        SetPosition(_buffer.Start);
    }

    private void SetPosition(SequencePosition position)
    {
        // A result of the fast path names no array of its own: it lay in the segment that is left now.
        if (_resultKind == ResultInSegment)
        {
            _resultKind = ResultNone;
        }

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
