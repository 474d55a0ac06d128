using System;
using System.Buffers;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using HeaderFraming.Internal;

namespace HeaderFraming;

/// <summary>One frame: its header and its payload, as slices of the pipe's own buffers (nothing is copied).</summary>
/// <remarks>
/// <para><b>Lifetime:</b> the memory behind the frame belongs to the pipe. It stays valid until the next call to
/// <see cref="FrameReader.ReadFrameAsync"/> or <see cref="FrameReader.TryReadFrame(out Frame)"/> (or until the reader is
/// completed). Copy what you need to keep (<c>frame.Payload.ToArray()</c>) before reading again.</para>
/// <para>A frame is a few words (where it lies and how long its header is); <see cref="Header"/> and <see cref="Payload"/>
/// are built when asked for. Almost every frame smaller than a pipe segment lies in one block of memory
/// (<see cref="IsContiguous"/>): then <see cref="PayloadSpan"/> and <see cref="HeaderSpan"/> are the cheapest way in.</para>
/// </remarks>
public readonly struct Frame
{
    // Array: _start is the byte[], _startIndex the frame's first byte in it, _endIndex the frame's length.
    // Manager: the same with _start a MemoryManager<byte>.
    // Segments (split across segments only): _start/_end are the first and last ReadOnlySequenceSegment<byte>, with the
    // indexes in each.
    private readonly object? _start;
    private readonly object? _end;
    private readonly int _startIndex;
    private readonly int _endIndex;
    private readonly int _headerLength;
    private readonly FrameKind _kind;
    private readonly long _streamOffset;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal Frame(byte[] array, int start, int length, int headerLength, long streamOffset)
    {
        _start = array;
        _end = null;
        _startIndex = start;
        _endIndex = length;
        _headerLength = headerLength;
        _kind = FrameKind.Array;
        _streamOffset = streamOffset;
    }

    private Frame(object start, int startIndex, object? end, int endIndex, int headerLength, FrameKind kind, long streamOffset)
    {
        _start = start;
        _end = end;
        _startIndex = startIndex;
        _endIndex = endIndex;
        _headerLength = headerLength;
        _kind = kind;
        _streamOffset = streamOffset;
    }

    private enum FrameKind : byte
    {
        None,
        Array,
        Manager,
        Segments,
    }

    /// <summary>The header bytes, length field included (for a fixed header with a type byte or an opcode, those too).</summary>
    public ReadOnlySequence<byte> Header => Whole().Slice(0, _headerLength);

    /// <summary>The payload bytes: exactly the length the header declared.</summary>
    public ReadOnlySequence<byte> Payload => Whole().Slice(_headerLength);

    /// <summary>The header's length in bytes.</summary>
    public int HeaderLength => _headerLength;

    /// <summary>The payload's length in bytes, as the header declared it.</summary>
    public long PayloadLength => _kind == FrameKind.Segments
        ? ((ReadOnlySequenceSegment<byte>)_end!).RunningIndex + _endIndex - ((ReadOnlySequenceSegment<byte>)_start!).RunningIndex - _startIndex - _headerLength
        : _endIndex - _headerLength;

    /// <summary>
    /// <see langword="true"/> when the whole frame lies in one block of memory, so <see cref="HeaderSpan"/> and
    /// <see cref="PayloadSpan"/> can return it; <see langword="false"/> for a frame split across the pipe's segments (read
    /// <see cref="Header"/> and <see cref="Payload"/> then) and for the empty frame of a result without one.
    /// </summary>
    public bool IsContiguous => _kind == FrameKind.Array || _kind == FrameKind.Manager;

    /// <summary>The payload as one span, for a frame that <see cref="IsContiguous"/>. Valid until the next read.</summary>
    /// <exception cref="InvalidOperationException">The frame is split across buffers (<see cref="IsContiguous"/> is
    /// <see langword="false"/>): use <see cref="Payload"/>.</exception>
    public ReadOnlySpan<byte> PayloadSpan
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get
        {
            if (_kind == FrameKind.Array)
            {
                return new ReadOnlySpan<byte>(Unsafe.As<byte[]>(_start), _startIndex + _headerLength, _endIndex - _headerLength);
            }

            return WholeSpanSlow().Slice(_headerLength);
        }
    }

    /// <summary>The header as one span, for a frame that <see cref="IsContiguous"/>. Valid until the next read.</summary>
    /// <exception cref="InvalidOperationException">The frame is split across buffers: use <see cref="Header"/>.</exception>
    public ReadOnlySpan<byte> HeaderSpan
        => _kind == FrameKind.Array
            ? new ReadOnlySpan<byte>(Unsafe.As<byte[]>(_start), _startIndex, _headerLength)
            : WholeSpanSlow().Slice(0, _headerLength);

    /// <summary>The offset in the stream of the frame's first header byte (bytes since the reader started).</summary>
    public long StreamOffset => _streamOffset;

    /// <summary>A frame of the given bytes (header and payload), wherever they lie.</summary>
    internal static Frame FromSequence(in ReadOnlySequence<byte> whole, int headerLength, long streamOffset)
    {
        if (!whole.IsSingleSegment)
        {
            SequencePosition start = whole.Start;
            SequencePosition end = whole.End;
            return new Frame(start.GetObject()!, start.GetInteger(), end.GetObject()!, end.GetInteger(), headerLength, FrameKind.Segments, streamOffset);
        }

        // One block of memory: an array or a memory manager.
        ReadOnlyMemory<byte> memory = whole.First;
        if (System.Runtime.InteropServices.MemoryMarshal.TryGetArray(memory, out ArraySegment<byte> array))
        {
            return new Frame(array.Array!, array.Offset, array.Count, headerLength, streamOffset);
        }

        if (System.Runtime.InteropServices.MemoryMarshal.TryGetMemoryManager(memory, out MemoryManager<byte>? manager, out int index, out int length))
        {
            return new Frame(manager!, index, null, length, headerLength, FrameKind.Manager, streamOffset);
        }

        throw new NotSupportedException("A frame's memory is neither an array nor a MemoryManager<byte>.");
    }

    /// <summary>A frame inside one block of a memory manager's memory.</summary>
    internal static Frame InManager(MemoryManager<byte> manager, int start, int length, int headerLength, long streamOffset)
        => new Frame(manager, start, null, length, headerLength, FrameKind.Manager, streamOffset);

    private ReadOnlySequence<byte> Whole()
        => _kind switch
        {
            FrameKind.Array => new ReadOnlySequence<byte>(Unsafe.As<byte[]>(_start)!, _startIndex, _endIndex),
            FrameKind.Manager => new ReadOnlySequence<byte>(((MemoryManager<byte>)_start!).Memory.Slice(_startIndex, _endIndex)),
            FrameKind.Segments => new ReadOnlySequence<byte>((ReadOnlySequenceSegment<byte>)_start!, _startIndex, (ReadOnlySequenceSegment<byte>)_end!, _endIndex),
            _ => ReadOnlySequence<byte>.Empty,
        };

    [MethodImpl(MethodImplOptions.NoInlining)]
    private ReadOnlySpan<byte> WholeSpanSlow()
    {
        switch (_kind)
        {
            case FrameKind.Manager:
                return ((MemoryManager<byte>)_start!).GetSpan().Slice(_startIndex, _endIndex);
            case FrameKind.None:
                return default;
            default:
                ThrowHelper.ThrowInvalidOperation(string.Format(System.Globalization.CultureInfo.InvariantCulture,
                    "The frame at stream offset {0} is split across the pipe's buffers, so it is not one span: read Frame.Header and Frame.Payload (or check Frame.IsContiguous first).",
                    _streamOffset));
                return default;
        }
    }
}
