using System.IO.Pipelines;

namespace HeaderFraming.Benchmarks.Infrastructure;

/// <summary>
/// A PipeWriter over one preallocated array, with a no-op flush: measures FrameWriter's own cost writing into the same
/// contiguous memory as the copy baseline, with no pipe bookkeeping.
/// </summary>
public sealed class ArrayPipeWriter : PipeWriter
{
    private readonly byte[] _buffer;
    private int _written;

    public ArrayPipeWriter(int capacity) => _buffer = new byte[capacity];

    public ReadOnlySpan<byte> WrittenSpan => _buffer.AsSpan(0, _written);

    public void Reset() => _written = 0;

    public override void Advance(int bytes) => _written += bytes;

    public override Memory<byte> GetMemory(int sizeHint = 0)
    {
        EnsureRoom(sizeHint);
        return _buffer.AsMemory(_written);
    }

    // Straight from the array, not through Memory<T>.Span: the double should cost what the baseline's array access costs.
    public override Span<byte> GetSpan(int sizeHint = 0)
    {
        EnsureRoom(sizeHint);
        return _buffer.AsSpan(_written);
    }

    private void EnsureRoom(int sizeHint)
    {
        if (_buffer.Length - _written < Math.Max(sizeHint, 1))
        {
            throw new InvalidOperationException($"The array writer is full ({_written} of {_buffer.Length} bytes written, {sizeHint} requested).");
        }
    }

    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) => new(default(FlushResult));

    public override void CancelPendingFlush()
    {
    }

    public override void Complete(Exception? exception = null)
    {
    }
}
