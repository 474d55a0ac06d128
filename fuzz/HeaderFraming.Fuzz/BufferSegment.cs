using System;
using System.Buffers;

namespace HeaderFraming.Fuzz;

/// <summary>A segment of a hand-built multi-segment <see cref="ReadOnlySequence{T}"/>.</summary>
public sealed class BufferSegment : ReadOnlySequenceSegment<byte>
{
    public BufferSegment(ReadOnlyMemory<byte> memory, long runningIndex)
    {
        Memory = memory;
        RunningIndex = runningIndex;
    }

    public BufferSegment Append(ReadOnlyMemory<byte> memory)
    {
        var next = new BufferSegment(memory, RunningIndex + Memory.Length);
        Next = next;
        return next;
    }
}
