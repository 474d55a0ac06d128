using System;
using System.Buffers;
using System.Collections.Generic;
using System.Linq;

namespace HeaderFraming.Testing;

/// <summary>Builds multi-segment <see cref="ReadOnlySequence{T}"/>s: from pieces, split at chosen points, or a byte per segment.</summary>
public static class SegmentedSequence
{
    public static ReadOnlySequence<byte> Create(params byte[][] segments)
        => Create(segments.Select(s => (ReadOnlyMemory<byte>)s).ToArray());

    /// <summary>One segment per piece of memory, nothing copied (empty pieces make empty segments).</summary>
    public static ReadOnlySequence<byte> Create(params ReadOnlyMemory<byte>[] segments)
    {
        if (segments.Length == 0)
        {
            return ReadOnlySequence<byte>.Empty;
        }

        var first = new Segment(segments[0], 0);
        Segment last = first;
        for (int i = 1; i < segments.Length; i++)
        {
            last = last.Append(segments[i]);
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    /// <summary>Splits <paramref name="data"/> at the given cut points (sorted, clamped, duplicates allowed: empty segments),
    /// each piece copied into an array of its own, so that a reader cannot see past a segment's end into the next.</summary>
    public static ReadOnlySequence<byte> Split(byte[] data, IEnumerable<int> cuts)
    {
        var pieces = new List<byte[]>();
        int start = 0;
        foreach (int cut in cuts.Select(c => Math.Clamp(c, 0, data.Length)).OrderBy(c => c))
        {
            pieces.Add(data[start..cut]);
            start = cut;
        }

        pieces.Add(data[start..]);
        return Create(pieces.ToArray());
    }

    public static ReadOnlySequence<byte> OneByteSegments(byte[] data)
        => data.Length == 0 ? ReadOnlySequence<byte>.Empty : Create(data.Select(b => new[] { b }).ToArray());

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
