using System;
using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading;
using System.Threading.Tasks;
using HeaderFraming.Internal;

namespace HeaderFraming;

/// <summary>
/// Writes frames (header + payload) into a <see cref="PipeWriter"/>, in memory obtained from the pipe: the payload is copied
/// once, into the pipe, and nothing is allocated per frame.
/// </summary>
/// <remarks>
/// <para><see cref="Write(ReadOnlySpan{byte})"/> only buffers a frame; <see cref="FlushAsync"/> sends everything buffered, so
/// many frames can share one flush. <see cref="WriteAsync(ReadOnlyMemory{byte}, CancellationToken)"/> does both.</para>
/// <para><b>Flush through the frame writer, not the pipe.</b> Frames are written into one piece of the pipe's memory
/// (<see cref="PipeWriter.GetMemory"/>) after another, and that memory is handed to the pipe
/// (<see cref="PipeWriter.Advance"/>) once for many frames: when it is full, and by <see cref="FlushAsync"/>,
/// <see cref="WriteAsync(ReadOnlyMemory{byte}, CancellationToken)"/> and <see cref="Complete"/>. So a
/// <see cref="PipeWriter.FlushAsync"/> called on the pipe directly may send none of the frames written since the last of
/// those, and bytes written to the pipe directly between frames would be overwritten. Use the frame writer's methods, or
/// call <see cref="FlushAsync"/> before touching the pipe.</para>
/// <para><see cref="BeginFrame"/> hands out an <see cref="IBufferWriter{T}"/> for a payload whose length is not known up front
/// (a serializer): with a fixed-width codec the payload is written straight into the pipe's memory and the header is
/// back-patched by <see cref="EndFrame"/>, without copying the payload.</para>
/// <para>A codec that declares its length field (<see cref="ILengthFieldCodec"/>: any width, byte order, offset or
/// adjustment) has every header written inline from that layout, found once here; the frame writer never calls its
/// <see cref="IFrameCodec.WriteHeader"/> for a length the layout can describe. Any other codec writes each header through
/// <see cref="IFrameCodec.WriteHeader"/>, into header bytes zeroed first (or copied from the caller's header).</para>
/// <para>A <see cref="FrameWriter"/> is not thread-safe: one writer at a time, as with <see cref="PipeWriter"/>. For many
/// concurrent writers use <see cref="FramedConnection.SendAsync(ReadOnlyMemory{byte}, CancellationToken)"/>, which serializes
/// and coalesces their writes.</para>
/// <para>A payload whose length does not fit the codec's header (<see cref="IFrameCodec.MaxPayloadLength"/>) is refused with
/// an <see cref="ArgumentOutOfRangeException"/> before any byte of it is written; a length is never truncated.</para>
/// </remarks>
public sealed class FrameWriter
{
    // A frame up to this long is kept in one piece of memory (asking the pipe for a fresh piece when the current one is
    // too short: at most this much of a segment is left unused); a longer one fills the current piece and continues.
    private const int MaxContiguousFrameLength = 512;

    private readonly PipeWriter _writer;
    private IFrameCodec _codec;

    // Made by the first BeginFrame: a connection that only ever sends whole payloads (or nothing) holds none.
    private PayloadWriter? _payloadWriter;

    // The send-side limit on a payload (MaxFrameLength); long.MaxValue for none.
    private long _maxFrameLength = long.MaxValue;

    // Everything below is the codec's shape, set by ApplyCodec (the codec can change between frames).

    // -1 for a variable-width codec.
    private int _fixedHeaderLength;
    private long _maxPayloadLength; // the codec's, capped at MaxFrameLength
    private int _maxPayloadLengthInMemory; // the same, capped at int.MaxValue: what one piece of memory can hold

    // Whether a header the caller does not supply is zeroed before its length is written.
    private bool _clearHeader;

    // Whether the header carries bytes only the caller knows (a type byte, a prefix before a varint): a write without them
    // is refused instead of sending zeros.
    private bool _requiresHeader;

    // How many header bytes a caller supplies: the whole header of a fixed-width codec, the prefix of an IHeaderPrefixCodec;
    // -1 for a variable-width codec without a prefix (the caller then supplies the whole header for its length).
    private int _callerHeaderLength;

    // The codec's fixed trailer (IFrameTrailerCodec), written after every payload; null for none.
    private byte[]? _trailer;

    // The codec's length field (ILengthFieldCodec), written inline; null: the codec writes its own headers.
    private LengthFieldLayout? _layout;
    private LengthFieldKind _fieldKind;
    private int _fieldOffset;
    private long _minPayloadLength;
    private ulong _payloadLengthRange;

    // The pipe's memory being filled (Kestrel's BufferWriter<T>): the bytes from _bufferStart to _position are written
    // and not yet handed to the pipe; _bufferEnd is where the memory ends. The three count in _bufferArray when the
    // memory is an array's (nearly always: the hot path then makes its span without Memory<T>.Span), else in _buffer.
    private Memory<byte> _buffer;
    private byte[]? _bufferArray;
    private int _bufferStart;
    private int _position;
    private int _bufferEnd;

    // Bytes handed to the pipe so far.
    private long _bytesCommitted;

    // Whether the meter has a listener for written frames, asked whenever fresh memory is taken rather than per frame (three
    // instrument checks cost a third of a 16-byte frame): a listener that starts mid-batch counts from the next batch on.
    private bool _recordMetrics;

    /// <summary>Creates a writer of frames.</summary>
    /// <param name="writer">The pipe to write to. The frame writer never completes it; <see cref="Complete"/> does.</param>
    /// <param name="codec">The header format.</param>
    public FrameWriter(PipeWriter writer, IFrameCodec codec)
    {
        _writer = writer ?? throw new ArgumentNullException(nameof(writer));
        _codec = codec ?? throw new ArgumentNullException(nameof(codec));
        ApplyCodec(codec);
    }

    /// <summary>The header format of the next frames. Setting it switches the framing after the frames written so far (they
    /// keep theirs); to frame one message differently, set it, write, and set it back: the writer is synchronous, so that
    /// is exact.</summary>
    /// <exception cref="ArgumentNullException">The value is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">The codec declares a null layout or an empty trailer.</exception>
    /// <exception cref="InvalidOperationException">A frame started by <see cref="BeginFrame"/> is still open.</exception>
    public IFrameCodec Codec
    {
        get => _codec;
        set
        {
            if (value is null)
            {
                throw new ArgumentNullException(nameof(value));
            }

            ThrowIfFrameOpen();
            ApplyCodec(value);
        }
    }

    /// <summary>
    /// The largest payload this writer sends, in bytes (header and trailer not counted): the peer's limit (HTTP/2's
    /// <c>SETTINGS_MAX_FRAME_SIZE</c>, a server's configured maximum). A longer payload is refused with an
    /// <see cref="ArgumentOutOfRangeException"/> before any byte of its frame is written. <see cref="long.MaxValue"/> (the
    /// default) leaves only the codec's own limit (<see cref="IFrameCodec.MaxPayloadLength"/>). Changeable between frames.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is negative.</exception>
    /// <exception cref="InvalidOperationException">A frame started by <see cref="BeginFrame"/> is still open.</exception>
    public long MaxFrameLength
    {
        get => _maxFrameLength;
        set
        {
            if (value < 0)
            {
                ThrowHelper.ThrowArgumentOutOfRange(nameof(value), value, "MaxFrameLength cannot be negative.");
            }

            ThrowIfFrameOpen();
            _maxFrameLength = value;
            ApplyCodec(_codec);
        }
    }

    /// <summary>Buffers raw bytes, in order with the frames and without a header: a connection preface, a protocol header, a
    /// one-byte reply. Call <see cref="FlushAsync"/> to send them.</summary>
    /// <param name="bytes">The bytes, written as they are.</param>
    /// <exception cref="InvalidOperationException">A frame started by <see cref="BeginFrame"/> is still open.</exception>
    public void WriteRaw(ReadOnlySpan<byte> bytes)
    {
        ThrowIfFrameOpen();
        CopyChunked(bytes);
    }

    /// <summary>Takes a codec's shape (and the send limit) into the fields the hot path reads: the one place they are set.</summary>
    private void ApplyCodec(IFrameCodec codec)
    {
        LengthFieldLayout? layout = null;
        if (codec is ILengthFieldCodec lengthFieldCodec)
        {
            layout = lengthFieldCodec.LengthField
                ?? throw new ArgumentException($"The codec ({codec}) declares no length field layout.", nameof(codec));
        }

        byte[]? trailer = null;
        if (codec is IFrameTrailerCodec trailerCodec)
        {
            trailer = trailerCodec.Trailer.ToArray();
            if (trailer.Length == 0)
            {
                ThrowHelper.ThrowArgument(nameof(codec), $"The codec's ({codec}) Trailer is empty.");
            }
        }

        _requiresHeader = NeedsCallerHeader(codec, out _callerHeaderLength);
        long codecMax;
        _codec = codec;
        _trailer = trailer;
        _layout = layout;
        if (layout != null)
        {
            // Found once: every header is then written inline, whatever the field's width, order, offset or adjustment.
            _fixedHeaderLength = layout.HeaderLength;
            codecMax = layout.MaxPayloadLength;
            _fieldKind = layout.Kind;
            _fieldOffset = layout.FieldOffset;

            // A header that is only the field is written whole; any other byte is the caller's to supply.
            _clearHeader = !layout.HeaderIsField;
        }
        else
        {
            _fixedHeaderLength = codec.IsFixedWidth ? codec.MaxHeaderLength : -1;
            codecMax = codec.MaxPayloadLength;

            // IFrameCodec.WriteHeader may leave bytes besides the length as they are (a caller fills them first), and
            // nothing tells which: zero the header before the codec writes it.
            _clearHeader = true;
        }

        _maxPayloadLength = Math.Min(codecMax, _maxFrameLength);
        _maxPayloadLengthInMemory = (int)Math.Min(_maxPayloadLength, int.MaxValue);
        if (layout != null)
        {
            // The payload lengths the field can describe, within the send limit: [max(0, Adjustment), max], one compare.
            _minPayloadLength = Math.Max(0, layout.Adjustment);
            _payloadLengthRange = _maxPayloadLength >= _minPayloadLength ? (ulong)(_maxPayloadLength - _minPayloadLength) : 0;
        }
    }

    /// <summary>Bytes written so far, headers included: those handed to the pipe and those still in the memory being filled
    /// (<see cref="Commit"/> hands them over).</summary>
    internal long BytesWritten => _bytesCommitted + (_position - _bufferStart);

    /// <summary>Buffers one frame: the header for <paramref name="payload"/>, then the payload. Call <see cref="FlushAsync"/> to send it.</summary>
    /// <param name="payload">The payload.</param>
    /// <exception cref="ArgumentOutOfRangeException">The payload is longer than the header can describe; nothing was written.</exception>
    /// <exception cref="InvalidOperationException">A frame started by <see cref="BeginFrame"/> is still open.</exception>
    /// <exception cref="InvalidOperationException">The codec's header carries bytes besides the length (a type byte, a
    /// prefix) that only the caller knows: use <see cref="Write(ReadOnlySpan{byte}, ReadOnlySpan{byte})"/>.</exception>
    public void Write(ReadOnlySpan<byte> payload)
    {
        if (_requiresHeader)
        {
            ThrowHeaderRequired();
        }

        WriteFrame(default, payload);
    }

    /// <summary>Buffers one frame whose fixed header carries more than the length: <paramref name="header"/> supplies every header
    /// byte (a type byte, an opcode, a status), and the codec writes the length field into its copy.</summary>
    /// <param name="header">The header, exactly <see cref="IFrameCodec.GetHeaderLength"/> bytes, its length field overwritten;
    /// for an <see cref="IHeaderPrefixCodec"/>, its <see cref="IHeaderPrefixCodec.PrefixLength"/> bytes before the length.</param>
    /// <param name="payload">The payload.</param>
    /// <exception cref="ArgumentException"><paramref name="header"/> has the wrong length.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The payload is longer than the header can describe; nothing was written.</exception>
    public void Write(ReadOnlySpan<byte> header, ReadOnlySpan<byte> payload)
    {
        CheckCallerHeader(header, payload.Length);

        WriteFrame(header, payload);
    }

    /// <summary>Buffers one frame whose payload is a (possibly multi-segment) sequence, e.g. a frame read from another connection.</summary>
    /// <param name="payload">The payload.</param>
    /// <exception cref="ArgumentOutOfRangeException">The payload is longer than the header can describe; nothing was written.</exception>
    public void Write(in ReadOnlySequence<byte> payload)
    {
        if (_requiresHeader)
        {
            ThrowHeaderRequired();
        }

        WriteSequence(default, payload);
    }

    /// <summary>Buffers one frame whose fixed header carries more than the length, with a (possibly multi-segment) payload:
    /// a frame relayed from another connection.</summary>
    /// <param name="header">As for <see cref="Write(ReadOnlySpan{byte}, ReadOnlySpan{byte})"/>.</param>
    /// <param name="payload">The payload.</param>
    /// <exception cref="ArgumentException"><paramref name="header"/> has the wrong length.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The payload is longer than the header can describe; nothing was written.</exception>
    public void Write(ReadOnlySpan<byte> header, in ReadOnlySequence<byte> payload)
    {
        CheckCallerHeader(header, payload.Length);

        WriteSequence(header, payload);
    }

    /// <summary>Refuses header bytes of the wrong length for this codec and a payload of <paramref name="payloadLength"/> bytes.</summary>
    private void CheckCallerHeader(ReadOnlySpan<byte> header, long payloadLength)
    {
        int headerLength = _callerHeaderLength >= 0 ? _callerHeaderLength : _codec.GetHeaderLength(payloadLength);
        if (header.Length != headerLength)
        {
            ThrowHelper.ThrowArgument(nameof(header), $"The header must be {headerLength} bytes for this codec ({_codec}); it is {header.Length}.");
        }
    }

    /// <summary>Whether a frame of <paramref name="codec"/> needs header bytes from the caller (a layout with bytes besides its
    /// field, a prefix before a variable length), and how many a caller supplies: the whole header of a fixed-width codec,
    /// the prefix of an <see cref="IHeaderPrefixCodec"/>, -1 for a variable-width codec without one.</summary>
    internal static bool NeedsCallerHeader(IFrameCodec codec, out int callerHeaderLength)
    {
        int prefixLength = codec is IHeaderPrefixCodec prefixCodec ? prefixCodec.PrefixLength : 0;
        if (codec is ILengthFieldCodec { LengthField: LengthFieldLayout layout })
        {
            callerHeaderLength = layout.HeaderLength;
            return !layout.HeaderIsField || prefixLength > 0;
        }

        callerHeaderLength = codec.IsFixedWidth ? codec.MaxHeaderLength : prefixLength > 0 ? prefixLength : -1;
        return prefixLength > 0;
    }

    /// <summary>Whether a write must supply header bytes (see <see cref="ThrowHeaderRequired(IFrameCodec)"/>), and how many.</summary>
    internal bool RequiresHeader => _requiresHeader;

    internal int CallerHeaderLength => _callerHeaderLength;

    private void WriteSequence(ReadOnlySpan<byte> header, in ReadOnlySequence<byte> payload)
    {
        if (payload.IsSingleSegment)
        {
#if NET
            WriteFrame(header, payload.FirstSpan);
#else
            WriteFrame(header, payload.First.Span);
#endif
            return;
        }

        ThrowIfFrameOpen();
        long length = payload.Length;
        int headerLength = _fixedHeaderLength >= 0 ? _fixedHeaderLength : _codec.GetHeaderLength(length);
        WriteHeaderOnly(header, length, headerLength);
        foreach (ReadOnlyMemory<byte> segment in payload)
        {
            CopyChunked(segment.Span);
        }

        CopyChunked(_trailer);
        RecordWritten(headerLength, length);
    }

    /// <summary>Buffers one frame and flushes: <see cref="Write(ReadOnlySpan{byte})"/> then <see cref="FlushAsync"/>.</summary>
    /// <param name="payload">The payload.</param>
    /// <param name="cancellationToken">Cancels the wait for the reader to catch up (backpressure); the frame is already buffered.</param>
    /// <returns>The pipe's flush result (<see cref="FlushResult.IsCompleted"/> when the reader has stopped).</returns>
    public ValueTask<FlushResult> WriteAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default)
    {
        Write(payload.Span);
        Commit();
        return _writer.FlushAsync(cancellationToken);
    }

    /// <summary>Sends every buffered frame to the pipe's reader, waiting if the pipe applies backpressure.</summary>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The pipe's flush result.</returns>
    /// <remarks>Hands every frame written so far to the pipe (<see cref="PipeWriter.Advance"/>), then calls its
    /// <see cref="PipeWriter.FlushAsync"/>.</remarks>
    /// <exception cref="InvalidOperationException">A frame started by <see cref="BeginFrame"/> is still open.</exception>
    public ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfFrameOpen();
        Commit();
        return _writer.FlushAsync(cancellationToken);
    }

    /// <summary>
    /// Starts a frame whose payload is written through the returned <see cref="IBufferWriter{T}"/> (hand it to a serializer);
    /// <see cref="EndFrame"/> writes the header.
    /// </summary>
    /// <param name="header">For a fixed header with bytes besides the length (a type byte), those bytes; empty for zeros.</param>
    /// <returns>The payload's buffer writer, valid until <see cref="EndFrame"/> or <see cref="AbortFrame"/>.</returns>
    /// <remarks>
    /// <para>With a fixed-width codec (<see cref="IFrameCodec.IsFixedWidth"/>) the header's bytes are reserved in the pipe's
    /// memory, after the frames before it, and the payload goes straight into that memory after them; <see cref="EndFrame"/>
    /// back-patches the length. No copy. A payload that outgrows the first 4 KiB reserved after the header is handed to the
    /// pipe as it goes, and the header is then back-patched after later memory was advanced but before any flush, which every
    /// <see cref="PipeWriter"/> of the BCL (<see cref="Pipe"/>,
    /// <see cref="PipeWriter.Create(System.IO.Stream, StreamPipeWriterOptions?)"/>) supports, since none hands data to its
    /// reader before <see cref="PipeWriter.FlushAsync"/>.</para>
    /// <para>With a variable-width codec (such as <see cref="Codecs.VarintCodec"/>) the header's length is unknown until the
    /// payload ends, so the payload is written to pooled memory and copied into the pipe once by <see cref="EndFrame"/>.</para>
    /// </remarks>
    /// <exception cref="InvalidOperationException">Another frame is still open.</exception>
    public IBufferWriter<byte> BeginFrame(ReadOnlySpan<byte> header = default)
    {
        ThrowIfFrameOpen();
        if (header.IsEmpty ? _requiresHeader : header.Length != _callerHeaderLength)
        {
            ThrowBadTemplate(header.Length);
        }

        PayloadWriter payloadWriter = _payloadWriter ??= new PayloadWriter(this);
        payloadWriter.Begin(header);
        return payloadWriter;
    }

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ThrowBadTemplate(int length)
    {
        if (length == 0)
        {
            ThrowHeaderRequired();
        }

        ThrowHelper.ThrowArgument("header", _callerHeaderLength < 0
            ? $"This codec ({_codec}) writes its whole header itself: BeginFrame takes no header bytes."
            : $"The header bytes must be {_callerHeaderLength} long for this codec ({_codec}); they are {length}.");
    }

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ThrowHeaderRequired() => ThrowHeaderRequired(_codec);

    /// <summary>Refuses a frame of <paramref name="codec"/> without the header bytes it needs from the caller.</summary>
    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal static void ThrowHeaderRequired(IFrameCodec codec)
    {
        NeedsCallerHeader(codec, out int callerHeaderLength);
        string which = codec is ILengthFieldCodec { LengthField: LengthFieldLayout layout }
            ? $"its {layout.HeaderLength}-byte header carries {layout.HeaderLength - layout.FieldWidth} bytes besides the {layout.FieldWidth}-byte length field"
            : $"its header starts with {callerHeaderLength} bytes before the length";
        ThrowHelper.ThrowInvalidOperation(
            $"This codec ({codec}) needs the header from the caller: {which} (a type, flags, an id), which would otherwise be sent as zeros. "
            + "Pass them: Write(header, payload), BeginFrame(header), or SendAsync(header, payload).");
    }

    /// <summary>Ends the frame started by <see cref="BeginFrame"/>: writes its header with the payload's length.</summary>
    /// <returns>The payload's length.</returns>
    /// <exception cref="InvalidOperationException">No frame is open.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The header cannot describe the payload's length (shorter than a length
    /// field with a positive adjustment allows); the frame was abandoned as by <see cref="AbortFrame"/>.</exception>
    public long EndFrame()
    {
        if (_payloadWriter is not { IsOpen: true } payloadWriter)
        {
            ThrowHelper.ThrowInvalidOperation("No frame is open: call BeginFrame first.");
            return 0;
        }

        return payloadWriter.End();
    }

    /// <summary>
    /// Abandons the frame started by <see cref="BeginFrame"/>, e.g. after its serializer threw. If none of its bytes had to be
    /// handed to the pipe yet, nothing is written and the writer can go on. Otherwise the stream cannot be repaired: the pipe
    /// is completed with an <see cref="InvalidOperationException"/> and later writes throw.
    /// </summary>
    public void AbortFrame()
    {
        if (_payloadWriter is { IsOpen: true } payloadWriter)
        {
            payloadWriter.Abort();
        }
    }

    /// <summary>Completes the underlying <see cref="PipeWriter"/>: no more frames will be written. Frames written before are
    /// handed to the pipe first (an open frame is abandoned, as by <see cref="AbortFrame"/>).</summary>
    /// <param name="exception">An error to report to the pipe's reader, or <see langword="null"/>.</param>
    public void Complete(Exception? exception = null)
    {
        if (_payloadWriter is { IsOpen: true } payloadWriter)
        {
            payloadWriter.Abort();
        }

        try
        {
            Commit();
        }
        finally
        {
            _writer.Complete(exception);
        }
    }

    /// <summary>Hands every byte written so far to the pipe (<see cref="PipeWriter.Advance"/>), without flushing; the next
    /// frame asks the pipe for fresh memory. For a caller that flushes the pipe itself (the connection's sender).</summary>
    internal void Commit()
    {
        Debug.Assert(_payloadWriter is not { IsOpenInBuffer: true }, "an open frame's header lies in the memory being filled");
        int buffered = _position - _bufferStart;
        Release();
        if (buffered > 0)
        {
            _bytesCommitted += buffered;
            _writer.Advance(buffered);
        }
    }

    private void WriteFrame(ReadOnlySpan<byte> header, ReadOnlySpan<byte> payload)
    {
        ThrowIfFrameOpen();
        int length = payload.Length;
        int headerLength = _fixedHeaderLength >= 0 ? _fixedHeaderLength : _codec.GetHeaderLength(length);
        if ((long)headerLength + length > _bufferEnd - _position || _trailer != null)
        {
            WriteFrameWithoutRoom(header, payload, headerLength);
            return;
        }

        // The whole frame in the memory being filled: header, then payload.
        Span<byte> destination = Available();
        WriteHeader(header, length, headerLength, destination);
        payload.CopyTo(destination.Slice(headerLength));
        Produced(headerLength + length);
        RecordWritten(headerLength, length);
    }

    /// <summary>A frame longer than the rest of the memory being filled: a short one goes whole into fresh memory, a long one
    /// starts here and goes on across as many pieces as it takes.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void WriteFrameWithoutRoom(ReadOnlySpan<byte> header, ReadOnlySpan<byte> payload, int headerLength)
    {
        int length = payload.Length;
        ReadOnlySpan<byte> trailer = _trailer;
        long frameLength = (long)headerLength + length + trailer.Length;
        if (frameLength <= _bufferEnd - _position || (frameLength <= MaxContiguousFrameLength && MakeRoom((int)frameLength).Length >= frameLength))
        {
            Span<byte> destination = Available();
            WriteHeader(header, length, headerLength, destination);
            payload.CopyTo(destination.Slice(headerLength));
            trailer.CopyTo(destination.Slice(headerLength + length));
            Produced((int)frameLength);
        }
        else
        {
            WriteHeaderOnly(header, length, headerLength);
            CopyChunked(payload);
            CopyChunked(trailer);
        }

        RecordWritten(headerLength, length);
    }

    private void WriteHeaderOnly(ReadOnlySpan<byte> header, long length, int headerLength)
    {
        Span<byte> destination = _bufferEnd - _position >= headerLength ? Available() : MakeRoom(headerLength);

        WriteHeader(header, length, headerLength, destination);
        Produced(headerLength);
    }

    private void CopyChunked(ReadOnlySpan<byte> source)
    {
        while (!source.IsEmpty)
        {
            Span<byte> destination = _position < _bufferEnd ? Available() : MakeRoom(0);

            int count = Math.Min(destination.Length, source.Length);
            source.Slice(0, count).CopyTo(destination);
            Produced(count);
            source = source.Slice(count);
        }
    }

    /// <summary>Fills a header: the caller's bytes or zeros (unless the length field is the whole header), then the length.
    /// Throws before anything counts as written if the length does not fit.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void WriteHeader(ReadOnlySpan<byte> header, long payloadLength, int headerLength, Span<byte> destination)
    {
        if (header.IsEmpty)
        {
            if (_clearHeader)
            {
                destination.Slice(0, headerLength).Clear();
            }
        }
        else
        {
            header.CopyTo(destination);
        }

        WriteLength(payloadLength, destination);
    }

    /// <summary>Writes the length of a payload into its header: inline through the layout, or by the codec.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The header cannot describe the length; nothing was written.</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void WriteLength(long payloadLength, Span<byte> header)
    {
        if (!TryWriteLengthInline(payloadLength, header))
        {
            if (_layout is null && (ulong)payloadLength <= (ulong)_maxPayloadLength)
            {
                _codec.WriteHeader(payloadLength, header);
            }
            else
            {
                ThrowCannotDescribe(payloadLength);
            }
        }
    }

    /// <summary>Writes the length field through the layout; <see langword="false"/>, writing nothing, when the codec has no
    /// layout or the layout cannot describe the length.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool TryWriteLengthInline(long payloadLength, Span<byte> header)
    {
        LengthFieldLayout? layout = _layout;
        if (layout is null || (ulong)(payloadLength - _minPayloadLength) > _payloadLengthRange)
        {
            return false;
        }

        // In range, so the field value is 0 to MaxFieldValue (computed modulo 2^64: the adjustment may be any long).
        ulong field = unchecked((ulong)payloadLength - (ulong)layout.Adjustment);
        if (_fieldKind == LengthFieldKind.UInt32BigEndian)
        {
            BinaryPrimitives.WriteUInt32BigEndian(header.Slice(_fieldOffset), (uint)field);
        }
        else
        {
            layout.WriteField(field, header);
        }

        return true;
    }

    /// <summary>A length outside the layout's range: the codec's own <see cref="IFrameCodec.WriteHeader"/> throws its
    /// exception (the <see cref="ILengthFieldCodec"/> contract makes it refuse the same lengths), so the message is the
    /// codec's, as a reader reports a bad header through <see cref="IFrameCodec.CreateHeaderException"/>.</summary>
    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ThrowCannotDescribe(long payloadLength)
    {
        ThrowIfOverSendLimit(payloadLength);
        if (_layout is null)
        {
            ThrowHelper.ThrowPayloadTooLong(payloadLength, _maxPayloadLength, _codec.ToString() ?? "the codec");
        }

        _codec.WriteHeader(payloadLength, new byte[_layout.HeaderLength]);

        // The codec wrote a header its layout says cannot exist: refuse the frame all the same, never truncate the length.
        if (payloadLength < 0)
        {
            ThrowHelper.ThrowNegativeLength(payloadLength);
        }

        if (payloadLength > _layout.MaxPayloadLength)
        {
            ThrowHelper.ThrowPayloadTooLong(payloadLength, _layout.MaxPayloadLength, _codec.ToString() ?? "the codec");
        }

        ThrowHelper.ThrowArgumentOutOfRange(nameof(payloadLength), payloadLength, string.Format(CultureInfo.InvariantCulture,
            "A payload of {0:N0} bytes cannot be described by {1}: the length field would be negative.", payloadLength, _codec));
    }

    /// <summary>Refuses a payload above <see cref="MaxFrameLength"/>, with a message that names that limit.</summary>
    private void ThrowIfOverSendLimit(long payloadLength) => ThrowIfOverSendLimit(payloadLength, _maxFrameLength, nameof(MaxFrameLength));

    /// <summary>Refuses a payload above a send limit (<paramref name="limitName"/>: the writer's, or a connection's).</summary>
    internal static void ThrowIfOverSendLimit(long payloadLength, long limit, string limitName)
    {
        if (payloadLength > limit)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(payloadLength), payloadLength, string.Format(CultureInfo.InvariantCulture,
                "A payload of {0:N0} bytes is over the send limit of {1:N0} bytes ({2}: the peer's largest frame); nothing of it was written.",
                payloadLength, limit, limitName));
        }
    }

    /// <summary>The unwritten rest of the memory being filled (empty when there is none).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Span<byte> Available() => AvailableFrom(0);

    /// <summary>The unwritten rest of the memory being filled, from <paramref name="offset"/> bytes past the position.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Span<byte> AvailableFrom(int offset) => SpanAt(_position + offset);

    /// <summary>The unwritten rest of the memory being filled from <paramref name="start"/>, counted like the position.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Span<byte> SpanAt(int start)
    {
        byte[]? array = _bufferArray;
        return array != null ? new Span<byte>(array, start, _bufferEnd - start) : _buffer.Span.Slice(start);
    }

    /// <summary><see cref="AvailableFrom"/> as memory, for the payload writer's <see cref="IBufferWriter{T}.GetMemory"/>.</summary>
    private Memory<byte> AvailableMemory(int offset) => _buffer.Slice(_position - _bufferStart + offset);

    /// <summary>Counts bytes written into the memory being filled.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Produced(int count)
    {
        Debug.Assert(count <= _bufferEnd - _position);
        _position += count;
    }

    /// <summary>Hands what is written to the pipe and asks it for memory of at least <paramref name="sizeHint"/> bytes.</summary>
    private Span<byte> MakeRoom(int sizeHint)
    {
        Commit();
        Memory<byte> memory = _writer.GetMemory(sizeHint);
        _buffer = memory;
        if (MemoryMarshal.TryGetArray((ReadOnlyMemory<byte>)memory, out ArraySegment<byte> segment))
        {
            _bufferArray = segment.Array;
            _bufferStart = segment.Offset;
        }

        _position = _bufferStart;
        _bufferEnd = _bufferStart + memory.Length;
        _recordMetrics = FramingMetrics.WriteEnabled;
        return Available();
    }

    /// <summary>Lets go of the memory being filled without handing anything to the pipe.</summary>
    private void Release()
    {
        _buffer = default;
        _bufferArray = null;
        _bufferStart = 0;
        _position = 0;
        _bufferEnd = 0;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void RecordWritten(int headerLength, long payloadLength)
    {
        if (_recordMetrics)
        {
            FramingMetrics.FrameWritten(headerLength, payloadLength);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void ThrowIfFrameOpen()
    {
        if (_payloadWriter is { IsOpenOrFaulted: true })
        {
            ThrowFrameOpenOrFaulted();
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ThrowFrameOpenOrFaulted()
    {
        if (_payloadWriter!.IsFaulted)
        {
            ThrowHelper.ThrowInvalidOperation("The frame writer is faulted: an earlier frame was abandoned after part of it was written.");
        }

        if (_payloadWriter.IsOpen)
        {
            ThrowHelper.ThrowInvalidOperation("A frame started by BeginFrame is still open: call EndFrame (or AbortFrame) first.");
        }
    }

    /// <summary>The <see cref="IBufferWriter{T}"/> of <see cref="BeginFrame"/>; one per <see cref="FrameWriter"/>, reused.</summary>
    /// <remarks>
    /// <para>Fixed width (<see cref="State.InBuffer"/>): the header is reserved at the owner's position, in the memory being
    /// filled, with at least <see cref="FirstBlockLength"/> bytes after it, and the payload goes there. The owner's position
    /// stays at the frame's start until <see cref="End"/> writes the length and moves it past the frame, so
    /// <see cref="Abort"/> has nothing to undo. A payload that outgrows that memory spills (<see cref="State.Spilled"/>): the
    /// frame so far is counted and handed to the pipe, the payload goes on in the owner's fresh memory, and the header is
    /// back-patched through <see cref="_spilledHeader"/>; such a frame can no longer be abandoned cleanly.</para>
    /// <para>Variable width (<see cref="State.Staged"/>): the payload is staged in pooled memory and written as a whole frame
    /// by <see cref="End"/>.</para>
    /// </remarks>
    private sealed class PayloadWriter : IBufferWriter<byte>
    {
        private const int FirstBlockLength = 4096;

        private readonly FrameWriter _owner;
        private State _state;

        // InBuffer: where the payload written so far ends, counted like the owner's position, and how far Advance may take
        // it without a check (the end of the memory, or of what the header can describe).
        private int _payloadEnd;
        private int _payloadLimit;

        // Spilled and Staged: the payload's length so far.
        private long _length;

        // Spilled: the header, already handed to the pipe.
        private Memory<byte> _spilledHeader;

        // Staged: the payload, and the caller's header bytes (none: _stagedHeaderLength 0).
        private PooledBufferWriter? _staging;
        private byte[]? _stagedHeader;
        private int _stagedHeaderLength;

        public PayloadWriter(FrameWriter owner) => _owner = owner;

        private enum State : byte
        {
            Closed,
            InBuffer,
            Spilled,
            Staged,
            Faulted,
        }

        public bool IsOpen => _state is State.InBuffer or State.Spilled or State.Staged;

        public bool IsFaulted => _state == State.Faulted;

        public bool IsOpenOrFaulted => _state != State.Closed;

        /// <summary>Whether an open frame's header lies at the owner's position, not yet counted.</summary>
        public bool IsOpenInBuffer => _state == State.InBuffer;

        /// <summary>The payload's length so far.</summary>
        private long Length => _state == State.InBuffer ? _payloadEnd - _owner._position - _owner._fixedHeaderLength : _length;

        /// <summary>Opens a frame; the owner has checked that none is open and the writer is not faulted.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Begin(ReadOnlySpan<byte> header)
        {
            Debug.Assert(_state == State.Closed);
            FrameWriter owner = _owner;
            int headerLength = owner._fixedHeaderLength;
            if (headerLength < 0 || owner._trailer != null)
            {
                // The header's length is unknown until the payload ends, or a trailer follows the payload: stage it.
                _staging ??= new PooledBufferWriter();
                if (_stagedHeader == null || _stagedHeader.Length < header.Length)
                {
                    _stagedHeader = new byte[Math.Max(header.Length, 16)];
                }

                header.CopyTo(_stagedHeader);
                _stagedHeaderLength = header.Length;
                _length = 0;
                _state = State.Staged;
                return;
            }

            if (owner._bufferEnd - owner._position < headerLength + FirstBlockLength)
            {
                owner.MakeRoom(headerLength + FirstBlockLength);
            }

            if (!header.IsEmpty)
            {
                header.CopyTo(owner.Available());
            }
            else if (owner._clearHeader)
            {
                owner.Available().Slice(0, headerLength).Clear();
            }

            int payloadStart = owner._position + headerLength;
            _payloadEnd = payloadStart;
            _payloadLimit = payloadStart + Math.Min(owner._bufferEnd - payloadStart, owner._maxPayloadLengthInMemory);
            _state = State.InBuffer;
        }

        public Span<byte> GetSpan(int sizeHint = 0)
        {
            if (_state == State.InBuffer)
            {
                FrameWriter owner = _owner;
                int room = owner._bufferEnd - _payloadEnd;
                if (room >= sizeHint && room > 0)
                {
                    return owner.SpanAt(_payloadEnd);
                }
            }

            return GetMemory(sizeHint).Span;
        }

        public Memory<byte> GetMemory(int sizeHint = 0)
        {
            FrameWriter owner = _owner;
            switch (_state)
            {
                case State.Staged:
                    return _staging!.GetMemory(sizeHint);
                case State.InBuffer:
                    int room = owner._bufferEnd - _payloadEnd;
                    if (room >= sizeHint && room > 0)
                    {
                        return owner.AvailableMemory(_payloadEnd - owner._position);
                    }

                    // The serializer needs more than the memory holds: hand the frame so far (header included) to the pipe
                    // and go on in fresh memory; End back-patches the header, before any flush.
                    _length = Length;
                    _spilledHeader = owner.AvailableMemory(0).Slice(0, owner._fixedHeaderLength);
                    owner.Produced(_payloadEnd - owner._position);
                    _state = State.Spilled;
                    break;
                case State.Spilled:
                    break;
                default:
                    ThrowNotOpen();
                    break;
            }

            if (owner._bufferEnd - owner._position < Math.Max(sizeHint, 1))
            {
                owner.MakeRoom(sizeHint);
            }

            return owner.AvailableMemory(0);
        }

        public void Advance(int count)
        {
            if (_state == State.InBuffer && (uint)count <= (uint)(_payloadLimit - _payloadEnd))
            {
                _payloadEnd += count;
                return;
            }

            AdvanceChecked(count);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public long End()
        {
            if (_state == State.InBuffer)
            {
                FrameWriter owner = _owner;
                int headerLength = owner._fixedHeaderLength;
                int length = _payloadEnd - owner._position - headerLength;
                if (owner.TryWriteLengthInline(length, owner.Available()))
                {
                    owner._position = _payloadEnd;
                    _state = State.Closed;
                    owner.RecordWritten(headerLength, length);
                    return length;
                }
            }

            return EndChecked();
        }

        public void Abort()
        {
            State state = _state;
            _state = State.Closed;
            if (state == State.Staged)
            {
                _staging!.Reset();
            }
            else if (state == State.Spilled)
            {
                // Bytes of this frame are already in the pipe with an unwritten header: the stream cannot continue.
                _spilledHeader = default;
                _state = State.Faulted;
                _owner.Release();
                _owner._writer.Complete(new InvalidOperationException(
                    "A frame was abandoned after part of its payload had been handed to the pipe; the stream was closed to avoid sending a corrupt frame."));
            }

            // InBuffer: nothing of the frame was counted; the owner's position is still where the frame would have started.
        }

        /// <summary>Every Advance but an in-range one of a frame in the memory being filled.</summary>
        [MethodImpl(MethodImplOptions.NoInlining)]
        private void AdvanceChecked(int count)
        {
            if (!IsOpen)
            {
                ThrowNotOpen();
            }

            if (count < 0)
            {
                ThrowHelper.ThrowArgumentOutOfRange(nameof(count), count, "Cannot advance by a negative count.");
            }

            FrameWriter owner = _owner;
            long length = Length + count;
            if (length > owner._maxPayloadLength)
            {
                Abort();
                owner.ThrowIfOverSendLimit(length);
                ThrowHelper.ThrowPayloadTooLong(length, owner._maxPayloadLength, owner._codec.ToString() ?? "the codec");
            }

            switch (_state)
            {
                case State.Staged:
                    _staging!.Advance(count);
                    _length = length;
                    break;
                case State.InBuffer:
                    // In range of the header, so past the memory handed out.
                    ThrowAdvancedTooFar(count);
                    break;
                default:
                    if (count > owner._bufferEnd - owner._position)
                    {
                        ThrowAdvancedTooFar(count);
                    }

                    owner.Produced(count);
                    _length = length;
                    break;
            }
        }

        /// <summary>Every End but that of a frame in the memory being filled whose length the layout describes.</summary>
        [MethodImpl(MethodImplOptions.NoInlining)]
        private long EndChecked()
        {
            Debug.Assert(IsOpen);
            FrameWriter owner = _owner;
            long length = Length;
            if (_state == State.Staged)
            {
                _state = State.Closed;
                try
                {
                    owner.WriteFrame(_stagedHeader.AsSpan(0, _stagedHeaderLength), _staging!.WrittenSpan);
                }
                finally
                {
                    _staging!.Reset();
                }

                return length;
            }

            try
            {
                // The codec's WriteHeader, or a length the layout cannot describe (below a positive adjustment): throws.
                owner.WriteLength(length, _state == State.Spilled ? _spilledHeader.Span : owner.Available());
            }
            catch
            {
                Abort();
                throw;
            }

            if (_state == State.InBuffer)
            {
                owner._position = _payloadEnd;
            }

            _spilledHeader = default;
            _state = State.Closed;
            owner.RecordWritten(owner._fixedHeaderLength, length);
            return length;
        }

        [DoesNotReturn]
        [MethodImpl(MethodImplOptions.NoInlining)]
        private static void ThrowNotOpen()
            => ThrowHelper.ThrowInvalidOperation("The frame is not open: the payload writer of BeginFrame is valid until EndFrame or AbortFrame.");

        [DoesNotReturn]
        [MethodImpl(MethodImplOptions.NoInlining)]
        private static void ThrowAdvancedTooFar(int count)
            => ThrowHelper.ThrowArgumentOutOfRange(nameof(count), count, "Advanced past the end of the memory handed out.");
    }
}
