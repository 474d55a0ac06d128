using System.Buffers;
using System.IO.Pipelines;

namespace HeaderFraming.Tests.Infrastructure;

/// <summary>
/// A <see cref="PipeReader"/> that hands out a fixed sequence in chunks of given sizes, one chunk per read, and records how it
/// was advanced. It checks the PipeReader contract: AdvanceTo before the next read, never past what was returned.
/// </summary>
public sealed class ChunkedPipeReader : PipeReader
{
    private readonly ReadOnlySequence<byte> _data;
    private readonly Queue<int> _chunks;
    private long _consumed;
    private long _available;
    private long _examined;
    private bool _reading;
    private bool _canceled;

    public ChunkedPipeReader(ReadOnlySequence<byte> data, IEnumerable<int> chunkSizes)
    {
        _data = data;
        _chunks = new Queue<int>(chunkSizes);
    }

    public int ReadCount { get; private set; }

    public bool Completed { get; private set; }

    public long Consumed => _consumed;

    public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
    {
        if (!_reading)
        {
            throw new InvalidOperationException("AdvanceTo without a read.");
        }

        long c = _data.Slice(0, consumed).Length;
        long e = _data.Slice(0, examined).Length;
        if (c < _consumed || c > _available || e < c || e > _available)
        {
            throw new InvalidOperationException($"Bad AdvanceTo: consumed {c}, examined {e}, previously consumed {_consumed}, available {_available}.");
        }

        _consumed = c;
        _examined = e;
        _reading = false;
    }

    public override void CancelPendingRead() => _canceled = true;

    public override void Complete(Exception? exception = null) => Completed = true;

    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (_reading)
        {
            throw new InvalidOperationException("ReadAsync before AdvanceTo.");
        }

        ReadCount++;
        if (ReadCount > 1_000_000)
        {
            throw new InvalidOperationException("The reader is spinning.");
        }

        if (_canceled)
        {
            _canceled = false;
            _reading = true;
            return new(new ReadResult(_data.Slice(_consumed, _available - _consumed), isCanceled: true, isCompleted: false));
        }

        // Like a real pipe, a read only returns when there is something new beyond what was examined.
        if (_examined == _available || _available == _consumed)
        {
            int chunk = _chunks.Count > 0 ? _chunks.Dequeue() : int.MaxValue;
            _available = Math.Min(_data.Length, _available + Math.Max(chunk, 1));
        }

        _reading = true;
        bool completed = _available == _data.Length;
        return new(new ReadResult(_data.Slice(_consumed, _available - _consumed), isCanceled: false, isCompleted: completed));
    }

    public override bool TryRead(out ReadResult result) => throw new NotSupportedException();
}
