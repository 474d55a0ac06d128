using System;
using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
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
    private readonly bool _headerNeedsClearing;
    private readonly int _bigEndianPrefixWidth;
    private long _bytesWritten;

    /// <summary>Creates a writer of frames.</summary>
    /// <param name="writer">The pipe to write to. The frame writer never completes it; <see cref="Complete"/> does.</param>
    /// <param name="codec">The header format.</param>
    public FrameWriter(PipeWriter writer, IFrameCodec codec)
    {
        _writer = writer ?? throw new ArgumentNullException(nameof(writer));
        _codec = codec ?? throw new ArgumentNullException(nameof(codec));
        _fixedHeaderLength = codec.IsFixedWidth ? codec.MaxHeaderLength : -1;
        LengthFieldLayout? layout = (codec as ILengthFieldCodec)?.LengthField;
        _bigEndianPrefixWidth = layout is { FieldOffset: 0, Adjustment: 0, Endianness: Codecs.Endianness.BigEndian, FieldWidth: 4 or 2 } && layout.HeaderIsField
            ? layout.FieldWidth
            : 0;

        // Headers the codec writes entirely need no zeroing first; others may have bytes besides the length field.
        _headerNeedsClearing = codec switch
        {
            Codecs.AsciiDecimalCodec => false,
            Codecs.VarintCodec => false,
            ILengthFieldCodec => !layout!.HeaderIsField,
            _ => true,
        };
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
                if (_headerNeedsClearing)
                {
                    destination.Slice(0, headerLength).Clear();
                }
            }
            else
            {
                header.CopyTo(destination);
            }

            if (_bigEndianPrefixWidth == 4)
            {
                // BinaryLengthCodec.UInt32BigEndian written inline: any int length fits. (The u16 prefix goes through the
                // codec, which refuses lengths above 65,535.)
                BinaryPrimitives.WriteUInt32BigEndian(destination, (uint)length);
            }
            else
            {
                _codec.WriteHeader(length, destination);
            }

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
        _codec.WriteHeader(length, destination);
        Advance(headerLength);
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
                    _headerMemory.Span.Slice(0, _headerLength).Clear();
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
                codec.WriteHeader(length, _headerMemory.Span);
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
