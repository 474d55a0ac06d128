using System;
using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using HeaderFraming.Internal;

namespace HeaderFraming;

/// <summary>One frame: its header and its payload, as slices of the pipe's own buffers (nothing is copied).</summary>
/// <remarks>
/// <para><b>Lifetime:</b> the memory behind the frame belongs to the pipe. It stays valid until the next call to
/// <see cref="FrameReader.ReadFrameAsync(System.Threading.CancellationToken)"/> or <see cref="FrameReader.TryReadFrame(out Frame)"/> (or until the reader is
/// completed). Copy what you need to keep (<c>frame.Payload.ToArray()</c>) before reading again. (A
/// <see cref="FrameReadResult"/> checks this: its <see cref="FrameReadResult.Frame"/> throws once the reader has read again;
/// a <see cref="Frame"/> taken from it is a plain value and cannot.)</para>
/// <para>A frame is four words — where it starts, how long it and its header are, its stream offset — so it costs little
/// to return and copy; <see cref="Header"/> and <see cref="Payload"/> are built when asked for. Almost every frame smaller
/// than a pipe segment lies in one block of memory (<see cref="IsContiguous"/>): then <see cref="PayloadSpan"/> and
/// <see cref="HeaderSpan"/> are the cheapest way in.</para>
/// </remarks>
public readonly struct Frame
{
    internal const int MaxHeaderLength = (1 << 24) - 1;

    private const int KindShift = 24;

    // Array: _start is the byte[] and _startIndex the frame's first byte in it. Manager: the same with a MemoryManager<byte>.
    // Segments (a frame split across segments): _start is the first ReadOnlySequenceSegment<byte>; the last is found from
    // the length. _headerAndKind: bits 0-23 the header length, 24-27 the kind.
    private readonly object? _start;
    private readonly long _streamOffset;
    private readonly long _length;
    private readonly int _startIndex;
    private readonly int _headerAndKind;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal Frame(byte[] array, int start, int length, int headerLength, long streamOffset)
    {
        _start = array;
        _streamOffset = streamOffset;
        _length = length;
        _startIndex = start;
        _headerAndKind = ArrayHeaderAndKind(headerLength);
    }

    /// <summary>What <see cref="HeaderAndKind"/> is for a frame in an array with a header of <paramref name="headerLength"/> bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int ArrayHeaderAndKind(int headerLength) => headerLength | ((int)FrameKind.Array << KindShift);

    private Frame(object start, int startIndex, long length, int headerLength, FrameKind kind, long streamOffset)
    {
        _start = start;
        _streamOffset = streamOffset;
        _length = length;
        _startIndex = startIndex;
        _headerAndKind = headerLength | ((int)kind << KindShift);
    }

    /// <summary>A frame from the parts another frame was taken apart into (<see cref="Start"/>, <see cref="StartIndex"/>,
    /// <see cref="Length"/>, <see cref="HeaderAndKind"/>, <see cref="StreamOffset"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal Frame(object? start, int startIndex, long length, int headerAndKind, long streamOffset)
    {
        _start = start;
        _streamOffset = streamOffset;
        _length = length;
        _startIndex = startIndex;
        _headerAndKind = headerAndKind;
    }

    private enum FrameKind
    {
        None,
        Array,
        Manager,
        Segments,
    }

    /// <summary>The header bytes, length field included (for a fixed header with a type byte or an opcode, those too).</summary>
    public ReadOnlySequence<byte> Header => Whole().Slice(0, HeaderLength);

    /// <summary>The payload bytes: exactly the length the header declared.</summary>
    public ReadOnlySequence<byte> Payload => Whole().Slice(HeaderLength);

    /// <summary>The header's length in bytes.</summary>
    public int HeaderLength => _headerAndKind & MaxHeaderLength;

    /// <summary>The payload's length in bytes, as the header declared it.</summary>
    public long PayloadLength => _length - HeaderLength;

    /// <summary>
    /// <see langword="true"/> when the whole frame lies in one block of memory, so <see cref="HeaderSpan"/> and
    /// <see cref="PayloadSpan"/> can return it; <see langword="false"/> for a frame split across the pipe's segments (read
    /// <see cref="Header"/> and <see cref="Payload"/> then) and for the empty frame of a result without one.
    /// </summary>
    public bool IsContiguous => Kind is FrameKind.Array or FrameKind.Manager;

    /// <summary>The payload as one span, for a frame that <see cref="IsContiguous"/>. Valid until the next read.</summary>
    /// <exception cref="InvalidOperationException">The frame is split across buffers (<see cref="IsContiguous"/> is
    /// <see langword="false"/>): use <see cref="Payload"/>.</exception>
    public ReadOnlySpan<byte> PayloadSpan
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get
        {
            int headerLength = HeaderLength;
            if (Kind == FrameKind.Array)
            {
                return new ReadOnlySpan<byte>(Unsafe.As<byte[]>(_start), _startIndex + headerLength, (int)_length - headerLength);
            }

            return WholeSpanSlow().Slice(headerLength);
        }
    }

    /// <summary>The header as one span, for a frame that <see cref="IsContiguous"/>. Valid until the next read.</summary>
    /// <exception cref="InvalidOperationException">The frame is split across buffers: use <see cref="Header"/>.</exception>
    public ReadOnlySpan<byte> HeaderSpan
        => Kind == FrameKind.Array
            ? new ReadOnlySpan<byte>(Unsafe.As<byte[]>(_start), _startIndex, HeaderLength)
            : WholeSpanSlow().Slice(0, HeaderLength);

    /// <summary>The offset in the stream of the frame's first header byte (bytes since the reader started).</summary>
    public long StreamOffset => _streamOffset;

    /// <summary>The frame's first segment, array or memory manager (null for the empty frame).</summary>
    internal object? Start => _start;

    /// <summary>Where the frame starts in <see cref="Start"/>.</summary>
    internal int StartIndex => _startIndex;

    /// <summary>The frame's whole length, header included.</summary>
    internal long Length => _length;

    /// <summary>The header length and the kind of memory, packed.</summary>
    internal int HeaderAndKind => _headerAndKind;

    private FrameKind Kind => (FrameKind)((_headerAndKind >> KindShift) & 0xF);

    /// <summary>A frame of the given bytes (header and payload), wherever they lie.</summary>
    internal static Frame FromSequence(in ReadOnlySequence<byte> whole, int headerLength, long streamOffset)
    {
        Debug.Assert(headerLength <= MaxHeaderLength);
        if (!whole.IsSingleSegment)
        {
            SequencePosition start = whole.Start;
            return new Frame(start.GetObject()!, start.GetInteger(), whole.Length, headerLength, FrameKind.Segments, streamOffset);
        }

        // One block of memory: an array or a memory manager.
        ReadOnlyMemory<byte> memory = whole.First;
        if (MemoryMarshal.TryGetArray(memory, out ArraySegment<byte> array))
        {
            return new Frame(array.Array!, array.Offset, array.Count, headerLength, streamOffset);
        }

        if (MemoryMarshal.TryGetMemoryManager(memory, out MemoryManager<byte>? manager, out int index, out int length))
        {
            return new Frame(manager!, index, length, headerLength, FrameKind.Manager, streamOffset);
        }

        throw new NotSupportedException("A frame's memory is neither an array nor a MemoryManager<byte>.");
    }

    /// <summary>A frame inside one block of a memory manager's memory.</summary>
    internal static Frame InManager(MemoryManager<byte> manager, int start, int length, int headerLength, long streamOffset)
        => new Frame(manager, start, length, headerLength, FrameKind.Manager, streamOffset);

    private ReadOnlySequence<byte> Whole()
    {
        switch (Kind)
        {
            case FrameKind.Array:
                return new ReadOnlySequence<byte>(Unsafe.As<byte[]>(_start)!, _startIndex, (int)_length);
            case FrameKind.Manager:
                return new ReadOnlySequence<byte>(((MemoryManager<byte>)_start!).Memory.Slice(_startIndex, (int)_length));
            case FrameKind.Segments:
            {
                // The last segment is the one the frame's end falls in (a frame ends inside a segment, or at its end).
                var first = (ReadOnlySequenceSegment<byte>)_start!;
                long end = first.RunningIndex + _startIndex + _length;
                ReadOnlySequenceSegment<byte> last = first;
                while (last.RunningIndex + last.Memory.Length < end)
                {
                    last = last.Next!;
                }

                return new ReadOnlySequence<byte>(first, _startIndex, last, (int)(end - last.RunningIndex));
            }

            default:
                return ReadOnlySequence<byte>.Empty;
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private ReadOnlySpan<byte> WholeSpanSlow()
    {
        switch (Kind)
        {
            case FrameKind.Manager:
                return ((MemoryManager<byte>)_start!).GetSpan().Slice(_startIndex, (int)_length);
            case FrameKind.None:
                return default;
            default:
                ThrowHelper.ThrowInvalidOperation(string.Format(CultureInfo.InvariantCulture,
                    "The frame at stream offset {0} is split across the pipe's buffers, so it is not one span: read Frame.Header and Frame.Payload (or check Frame.IsContiguous first).",
                    _streamOffset));
                return default;
        }
    }
}
