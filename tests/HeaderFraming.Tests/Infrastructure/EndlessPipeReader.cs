using System.Buffers;
using System.IO.Pipelines;
using HeaderFraming.Testing;

namespace HeaderFraming.Tests.Infrastructure;

/// <summary>
/// A <see cref="PipeReader"/> over a peer that never stops sending: <c>prefix</c>, then <c>filler</c> bytes forever (or until
/// <c>endAfter</c> bytes, then the end of the stream). Each read adds one read segment of new bytes (as a separate buffer segment), and only once the
/// reader has examined everything it was given (as a real pipe does). It records the largest buffer it ever handed out: the
/// bytes the frame reader chose to keep buffered. A reader that keeps asking for more without consuming is stopped at
/// <see cref="HardCap"/> bytes with an exception, so an unbounded-buffering bug fails instead of eating the machine.
/// </summary>
public sealed class EndlessPipeReader : PipeReader
{
    public const long HardCap = 64L * 1024 * 1024;

    private readonly byte[] _prefix;
    private readonly byte _filler;
    private readonly int _segmentSize;
    private readonly long _endAfter;
    private byte[] _backing = [];
    private ReadOnlySequence<byte> _lastBuffer;
    private long _consumed;
    private long _available;
    private long _examined;
    private bool _reading;

    public EndlessPipeReader(byte[] prefix, byte filler, int segmentSize, long endAfter = -1)
    {
        _prefix = prefix;
        _filler = filler;
        _segmentSize = segmentSize;
        _endAfter = endAfter;
    }

    /// <summary>The largest number of unconsumed bytes handed to the reader in one <see cref="ReadResult"/>.</summary>
    public long MaxBuffered { get; private set; }

    /// <summary>Bytes the reader consumed (whole frames it returned).</summary>
    public long Consumed => _consumed;

    /// <summary>Bytes the peer has sent so far.</summary>
    public long Sent => _available;

    public bool Completed { get; private set; }

    public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
    {
        if (!_reading)
        {
            throw new InvalidOperationException("AdvanceTo without a read.");
        }

        long c = _consumed + _lastBuffer.Slice(0, consumed).Length;
        long e = _consumed + _lastBuffer.Slice(0, examined).Length;
        if (c < _consumed || e < c || e > _available)
        {
            throw new InvalidOperationException($"Bad AdvanceTo: consumed {c}, examined {e}, available {_available}.");
        }

        _consumed = c;
        _examined = e;
        _reading = false;
    }

    public override void CancelPendingRead() => throw new NotSupportedException();

    public override void Complete(Exception? exception = null) => Completed = true;

    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        if (_reading)
        {
            throw new InvalidOperationException("ReadAsync before AdvanceTo.");
        }

        bool ended = _endAfter >= 0 && _available >= _endAfter;
        if (!ended && (_examined == _available || _available == _consumed))
        {
            long next = _available + _segmentSize;
            if (_endAfter >= 0)
            {
                next = Math.Min(next, _endAfter);
            }

            if (next > HardCap)
            {
                throw new InvalidOperationException(
                    $"The frame reader kept {_available - _consumed:N0} bytes buffered and asked for more: unbounded buffering.");
            }

            _available = next;
        }

        // The unconsumed bytes in two segments, the bytes held from earlier reads and the newest send, without copying.
        EnsureBacking(_available);
        long newStart = Math.Max(_consumed, _available - _segmentSize);
        _lastBuffer = SegmentedSequence.Create(
            _backing.AsMemory((int)_consumed, (int)(newStart - _consumed)),
            _backing.AsMemory((int)newStart, (int)(_available - newStart)));
        MaxBuffered = Math.Max(MaxBuffered, _available - _consumed);
        _reading = true;
        bool completed = _endAfter >= 0 && _available >= _endAfter;
        return new(new ReadResult(_lastBuffer, isCanceled: false, isCompleted: completed));
    }

    private void EnsureBacking(long length)
    {
        if (_backing.Length >= length)
        {
            return;
        }

        var bigger = new byte[Math.Max(length, Math.Min(HardCap, Math.Max(4096, (long)_backing.Length * 2)))];
        _backing.CopyTo(bigger, 0);
        for (int i = _backing.Length; i < bigger.Length; i++)
        {
            bigger[i] = i < _prefix.Length ? _prefix[i] : _filler;
        }

        _backing = bigger;
    }

    public override bool TryRead(out ReadResult result) => throw new NotSupportedException();
}
