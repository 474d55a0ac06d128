using System;
using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
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
/// <para><see cref="BeginFrame"/> hands out an <see cref="IBufferWriter{T}"/> for a payload whose length is not known up front
/// (a serializer): with a fixed-width codec the payload is written straight into the pipe and the header is back-patched by
/// <see cref="EndFrame"/>, without copying the payload.</para>
/// <para>A <see cref="FrameWriter"/> is not thread-safe: one writer at a time, as with <see cref="PipeWriter"/>. For many
/// concurrent writers use <see cref="FramedConnection.SendAsync(ReadOnlyMemory{byte}, CancellationToken)"/>, which serializes
/// and coalesces their writes.</para>
/// <para>A payload whose length does not fit the codec's header (<see cref="IFrameCodec.MaxPayloadLength"/>) is refused with
/// an <see cref="ArgumentOutOfRangeException"/> before any byte of it is written; a length is never truncated.</para>
/// </remarks>
public sealed class FrameWriter
{
    private readonly PipeWriter _writer;
    private readonly IFrameCodec _codec;
    // Made by the first BeginFrame: a connection that only ever sends whole payloads (or nothing) holds none.
    private PayloadWriter? _payloadWriter;
    private readonly int _fixedHeaderLength;
    private readonly bool _clearHeader;
    private long _bytesWritten;

    // The codec's length field (ILengthFieldCodec), written inline; null: the codec writes its own headers.
    private readonly LengthFieldLayout? _layout;
    private readonly LengthFieldKind _fieldKind;
    private readonly int _fieldOffset;
    private readonly long _minPayloadLength;
    private readonly ulong _payloadLengthRange;

    /// <summary>Creates a writer of frames.</summary>
    /// <param name="writer">The pipe to write to. The frame writer never completes it; <see cref="Complete"/> does.</param>
    /// <param name="codec">The header format.</param>
    public FrameWriter(PipeWriter writer, IFrameCodec codec)
    {
        _writer = writer ?? throw new ArgumentNullException(nameof(writer));
        _codec = codec ?? throw new ArgumentNullException(nameof(codec));
        _fixedHeaderLength = codec.IsFixedWidth ? codec.MaxHeaderLength : -1;
        if (codec is ILengthFieldCodec lengthFieldCodec)
        {
            // Found once: every header is then written inline, whatever the field's width, order, offset or adjustment.
            LengthFieldLayout layout = lengthFieldCodec.LengthField
                ?? throw new ArgumentException($"The codec ({codec}) declares no length field layout.", nameof(codec));
            _layout = layout;
            _fixedHeaderLength = layout.HeaderLength;
            _fieldKind = layout.Kind;
            _fieldOffset = layout.FieldOffset;

            // The payload lengths the field can describe: [max(0, Adjustment), MaxPayloadLength], checked with one compare.
            _minPayloadLength = Math.Max(0, layout.Adjustment);
            _payloadLengthRange = (ulong)(layout.MaxPayloadLength - _minPayloadLength);

            // A header that is only the field is written whole; any other byte is zeroed unless the caller supplies it.
            _clearHeader = !layout.HeaderIsField;
        }
        else
        {
            // IFrameCodec.WriteHeader may leave bytes besides the length as they are (a caller fills them first), and
            // nothing tells which: zero the header before the codec writes it.
            _clearHeader = true;
        }
    }

    /// <summary>The header format.</summary>
    public IFrameCodec Codec => _codec;

    /// <summary>Bytes handed to the pipe (Advance) so far, headers included.</summary>
    internal long BytesWritten => _bytesWritten;

    /// <summary>Buffers one frame: the header for <paramref name="payload"/>, then the payload. Call <see cref="FlushAsync"/> to send it.</summary>
    /// <param name="payload">The payload.</param>
    /// <exception cref="ArgumentOutOfRangeException">The payload is longer than the header can describe; nothing was written.</exception>
    /// <exception cref="InvalidOperationException">A frame started by <see cref="BeginFrame"/> is still open.</exception>
    public void Write(ReadOnlySpan<byte> payload) => WriteFrame(default, payload);

    /// <summary>Buffers one frame whose fixed header carries more than the length: <paramref name="header"/> supplies every header
    /// byte (a type byte, an opcode, a status), and the codec writes the length field into its copy.</summary>
    /// <param name="header">The header, exactly <see cref="IFrameCodec.GetHeaderLength"/> bytes; its length field is overwritten.</param>
    /// <param name="payload">The payload.</param>
    /// <exception cref="ArgumentException"><paramref name="header"/> has the wrong length.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The payload is longer than the header can describe; nothing was written.</exception>
    public void Write(ReadOnlySpan<byte> header, ReadOnlySpan<byte> payload)
    {
        int headerLength = _codec.GetHeaderLength(payload.Length);
        if (header.Length != headerLength)
        {
            ThrowHelper.ThrowArgument(nameof(header), $"The header must be {headerLength} bytes for this codec ({_codec}); it is {header.Length}.");
        }

        WriteFrame(header, payload);
    }

    /// <summary>Buffers one frame whose payload is a (possibly multi-segment) sequence, e.g. a frame read from another connection.</summary>
    /// <param name="payload">The payload.</param>
    /// <exception cref="ArgumentOutOfRangeException">The payload is longer than the header can describe; nothing was written.</exception>
    public void Write(in ReadOnlySequence<byte> payload)
    {
        if (payload.IsSingleSegment)
        {
#if NET
            WriteFrame(default, payload.FirstSpan);
#else
            WriteFrame(default, payload.First.Span);
#endif
            return;
        }

        ThrowIfFrameOpen();
        long length = payload.Length;
        WriteHeaderOnly(default, length);
        foreach (ReadOnlyMemory<byte> segment in payload)
        {
            CopyChunked(segment.Span);
        }

        RecordWritten(length);
    }

    /// <summary>Buffers one frame and flushes: <see cref="Write(ReadOnlySpan{byte})"/> then <see cref="FlushAsync"/>.</summary>
    /// <param name="payload">The payload.</param>
    /// <param name="cancellationToken">Cancels the wait for the reader to catch up (backpressure); the frame is already buffered.</param>
    /// <returns>The pipe's flush result (<see cref="FlushResult.IsCompleted"/> when the reader has stopped).</returns>
    public ValueTask<FlushResult> WriteAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default)
    {
        WriteFrame(default, payload.Span);
        return _writer.FlushAsync(cancellationToken);
    }

    /// <summary>Sends every buffered frame to the pipe's reader, waiting if the pipe applies backpressure.</summary>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The pipe's flush result.</returns>
    /// <exception cref="InvalidOperationException">A frame started by <see cref="BeginFrame"/> is still open.</exception>
    public ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfFrameOpen();
        return _writer.FlushAsync(cancellationToken);
    }

    /// <summary>
    /// Starts a frame whose payload is written through the returned <see cref="IBufferWriter{T}"/> (hand it to a serializer);
    /// <see cref="EndFrame"/> writes the header.
    /// </summary>
    /// <param name="header">For a fixed header with bytes besides the length (a type byte), those bytes; empty for zeros.</param>
    /// <returns>The payload's buffer writer, valid until <see cref="EndFrame"/> or <see cref="AbortFrame"/>.</returns>
    /// <remarks>
    /// <para>With a fixed-width codec (<see cref="IFrameCodec.IsFixedWidth"/>) the header's bytes are reserved in the pipe and the
    /// payload goes straight into the pipe's memory after them; <see cref="EndFrame"/> back-patches the length. No copy. This
    /// writes the reserved header after later memory was advanced but before any flush, which every <see cref="PipeWriter"/>
    /// of the BCL (<see cref="Pipe"/>, <see cref="PipeWriter.Create(System.IO.Stream, StreamPipeWriterOptions?)"/>) supports,
    /// since none hands data to its reader before <see cref="PipeWriter.FlushAsync"/>.</para>
    /// <para>With a variable-width codec (<see cref="Codecs.VarintCodec"/>) the header's length is unknown until the payload ends,
    /// so the payload is written to pooled memory and copied into the pipe once by <see cref="EndFrame"/>.</para>
    /// </remarks>
    /// <exception cref="InvalidOperationException">Another frame is still open.</exception>
    public IBufferWriter<byte> BeginFrame(ReadOnlySpan<byte> header = default)
    {
        ThrowIfFrameOpen();
        if (!header.IsEmpty && (!_codec.IsFixedWidth || header.Length != _codec.MaxHeaderLength))
        {
            ThrowHelper.ThrowArgument(nameof(header), $"A header template must be {_codec.MaxHeaderLength} bytes, for a fixed-width codec ({_codec}).");
        }

        PayloadWriter payloadWriter = _payloadWriter ??= new PayloadWriter(this);
        payloadWriter.Begin(header);
        return payloadWriter;
    }

    /// <summary>Ends the frame started by <see cref="BeginFrame"/>: writes its header with the payload's length.</summary>
    /// <returns>The payload's length.</returns>
    /// <exception cref="InvalidOperationException">No frame is open.</exception>
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

    /// <summary>Completes the underlying <see cref="PipeWriter"/>: no more frames will be written.</summary>
    /// <param name="exception">An error to report to the pipe's reader, or <see langword="null"/>.</param>
    public void Complete(Exception? exception = null)
    {
        if (_payloadWriter is { IsOpen: true } payloadWriter)
        {
            payloadWriter.Abort();
        }

        _writer.Complete(exception);
    }

    private void WriteFrame(ReadOnlySpan<byte> header, ReadOnlySpan<byte> payload)
    {
        ThrowIfFrameOpen();
        int length = payload.Length;
        int headerLength = _fixedHeaderLength >= 0 ? _fixedHeaderLength : _codec.GetHeaderLength(length);
        Span<byte> destination = _writer.GetSpan(headerLength);
        if (destination.Length - headerLength >= length)
        {
            // One span for the whole frame: header then payload, one Advance.
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

            WriteLength(length, destination);
            payload.CopyTo(destination.Slice(headerLength));
            Advance(headerLength + length);
#if NET
            if (FramingMetrics.WriteEnabled)
            {
                FramingMetrics.FrameWritten(headerLength, length);
            }
#endif
            return;
        }

        WriteHeaderOnly(header, length);
        CopyChunked(payload);
        RecordWritten(length);
    }

    /// <summary>Hands bytes to the pipe, counting them (<see cref="BytesWritten"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Advance(int count)
    {
        _writer.Advance(count);
        _bytesWritten += count;
    }

    private void RecordWritten(long payloadLength)
    {
#if NET
        if (FramingMetrics.WriteEnabled)
        {
            FramingMetrics.FrameWritten(_codec.GetHeaderLength(payloadLength), payloadLength);
        }
#endif
    }

    private void WriteHeaderOnly(ReadOnlySpan<byte> header, long length)
    {
        int headerLength = _codec.GetHeaderLength(length);
        Span<byte> destination = _writer.GetSpan(headerLength);
        if (header.IsEmpty)
        {
            destination.Slice(0, headerLength).Clear();
        }
        else
        {
            header.CopyTo(destination);
        }

        // Throws (before Advance, so nothing is written) if the length does not fit.
        WriteLength(length, destination);
        Advance(headerLength);
    }

    /// <summary>Writes the length of a payload into its header: inline through the layout, or by the codec.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The header cannot describe the length; nothing was written.</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void WriteLength(long payloadLength, Span<byte> header)
    {
        LengthFieldLayout? layout = _layout;
        if (layout is null)
        {
            _codec.WriteHeader(payloadLength, header);
            return;
        }

        if ((ulong)(payloadLength - _minPayloadLength) > _payloadLengthRange)
        {
            ThrowCannotDescribe(payloadLength);
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
    }

    /// <summary>A length outside the layout's range: the codec's own <see cref="IFrameCodec.WriteHeader"/> throws its
    /// exception (the <see cref="ILengthFieldCodec"/> contract makes it refuse the same lengths), so the message is the
    /// codec's, as a reader reports a bad header through <see cref="IFrameCodec.CreateHeaderException"/>.</summary>
    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ThrowCannotDescribe(long payloadLength)
    {
        Debug.Assert(_layout != null);
        _codec.WriteHeader(payloadLength, new byte[_layout!.HeaderLength]);

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

    private void CopyChunked(ReadOnlySpan<byte> source)
    {
        while (!source.IsEmpty)
        {
            Span<byte> destination = _writer.GetSpan();
            int count = Math.Min(destination.Length, source.Length);
            source.Slice(0, count).CopyTo(destination);
            Advance(count);
            source = source.Slice(count);
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
    private sealed class PayloadWriter : IBufferWriter<byte>
    {
        private const int FirstBlockHint = 4096;

        private readonly FrameWriter _owner;
        private bool _isOpen;
        private bool _faulted;

        // Fixed width: the pipe memory holding the reserved header, and the not-yet-advanced first block after it.
        private Memory<byte> _headerMemory;
        private int _headerLength;
        private int _firstBlockWritten;
        private bool _firstBlockCommitted;

        // Variable width: the payload is staged in pooled memory.
        private PooledBufferWriter? _staging;
        private long _length;

        public PayloadWriter(FrameWriter owner) => _owner = owner;

        public bool IsOpen => _isOpen;

        public bool IsFaulted => _faulted;

        public bool IsOpenOrFaulted => _isOpen | _faulted;

        public void Begin(ReadOnlySpan<byte> header)
        {
            if (_faulted)
            {
                ThrowHelper.ThrowInvalidOperation("The frame writer is faulted: an earlier frame was abandoned after part of it was written.");
            }

            _isOpen = true;
            _length = 0;
            IFrameCodec codec = _owner._codec;
            if (codec.IsFixedWidth)
            {
                _headerLength = codec.MaxHeaderLength;
                _headerMemory = _owner._writer.GetMemory(_headerLength + FirstBlockHint);
                if (header.IsEmpty)
                {
                    if (_owner._clearHeader)
                    {
                        _headerMemory.Span.Slice(0, _headerLength).Clear();
                    }
                }
                else
                {
                    header.CopyTo(_headerMemory.Span);
                }

                _firstBlockWritten = 0;
                _firstBlockCommitted = false;
            }
            else
            {
                _staging ??= new PooledBufferWriter();
            }
        }

        public Memory<byte> GetMemory(int sizeHint = 0)
        {
            ThrowIfClosed();
            if (_staging != null && !_owner._codec.IsFixedWidth)
            {
                return _staging.GetMemory(sizeHint);
            }

            if (!_firstBlockCommitted)
            {
                Memory<byte> rest = _headerMemory.Slice(_headerLength + _firstBlockWritten);
                if (rest.Length >= Math.Max(sizeHint, 1))
                {
                    return rest;
                }

                // The serializer needs more than the first block holds: hand the block (header included) to the pipe and
                // continue in fresh pipe memory; the header is back-patched into _headerMemory at EndFrame.
                _owner.Advance(_headerLength + _firstBlockWritten);
                _firstBlockCommitted = true;
            }

            return _owner._writer.GetMemory(sizeHint);
        }

        public Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;

        public void Advance(int count)
        {
            ThrowIfClosed();
            if (count < 0)
            {
                ThrowHelper.ThrowArgumentOutOfRange(nameof(count), count, "Cannot advance by a negative count.");
            }

            long length = _length + count;
            if (length > _owner._codec.MaxPayloadLength)
            {
                Abort();
                ThrowHelper.ThrowPayloadTooLong(length, _owner._codec.MaxPayloadLength, _owner._codec.ToString() ?? "the codec");
            }

            _length = length;
            if (_staging != null && !_owner._codec.IsFixedWidth)
            {
                _staging.Advance(count);
            }
            else if (!_firstBlockCommitted)
            {
                _firstBlockWritten += count;
            }
            else
            {
                _owner.Advance(count);
            }
        }

        public long End()
        {
            Debug.Assert(_isOpen);
            IFrameCodec codec = _owner._codec;
            long length = _length;
            if (codec.IsFixedWidth)
            {
                _owner.WriteLength(length, _headerMemory.Span);
                if (!_firstBlockCommitted)
                {
                    _owner.Advance(_headerLength + _firstBlockWritten);
                }

                _headerMemory = default;
                _owner.RecordWritten(length);
            }
            else
            {
                Debug.Assert(_staging != null);
                _isOpen = false;
                try
                {
                    _owner.WriteFrame(default, _staging!.WrittenSpan);
                }
                finally
                {
                    _staging!.Reset();
                }
            }

            _isOpen = false;
            return length;
        }

        public void Abort()
        {
            _isOpen = false;
            _staging?.Reset();
            _headerMemory = default;
            if (_firstBlockCommitted && _owner._codec.IsFixedWidth)
            {
                // Bytes of this frame are already in the pipe with an unwritten header: the stream cannot continue.
                _faulted = true;
                _owner._writer.Complete(new InvalidOperationException(
                    "A frame was abandoned after part of its payload had been handed to the pipe; the stream was closed to avoid sending a corrupt frame."));
            }

            _firstBlockCommitted = false;
        }

        private void ThrowIfClosed()
        {
            if (!_isOpen)
            {
                ThrowHelper.ThrowInvalidOperation("The frame is not open: the payload writer of BeginFrame is valid until EndFrame or AbortFrame.");
            }
        }
    }
}
