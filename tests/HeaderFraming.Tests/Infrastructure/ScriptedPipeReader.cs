using System.Buffers;
using System.IO.Pipelines;

namespace HeaderFraming.Tests.Infrastructure;

/// <summary>
/// A <see cref="PipeReader"/> whose reads the test completes by hand, to replay a race deterministically: a
/// <see cref="CancelPendingRead"/> that arrives while a read is pending either cancels it (as <see cref="Pipe"/> does) or,
/// while <see cref="HoldCancellations"/> is set, lands just after data completed that read and stays pending for the next
/// read (what <see cref="Pipe"/> does when data wins the race).
/// </summary>
public sealed class ScriptedPipeReader : PipeReader
{
    private readonly object _sync = new();
    private byte[] _buffered = [];
    private bool _cancelPending;
    private int _readCount;
    private TaskCompletionSource<ReadResult>? _pending;
    private TaskCompletionSource _cancelRequested = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public bool HoldCancellations { get; set; }

    /// <summary>How many times <see cref="ReadAsync"/> has been called.</summary>
    public int ReadCount
    {
        get
        {
            lock (_sync)
            {
                return _readCount;
            }
        }
    }

    /// <summary>Completes when <see cref="CancelPendingRead"/> is next called.</summary>
    public Task CancelRequested
    {
        get
        {
            lock (_sync)
            {
                return _cancelRequested.Task;
            }
        }
    }

    /// <summary>Appends bytes and completes the pending read with them.</summary>
    public void Deliver(byte[] bytes)
    {
        TaskCompletionSource<ReadResult>? pending;
        lock (_sync)
        {
            _buffered = [.. _buffered, .. bytes];
            pending = _pending;
            _pending = null;
        }

        pending?.SetResult(new ReadResult(new ReadOnlySequence<byte>(_buffered), isCanceled: false, isCompleted: false));
    }

    public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
    {
        lock (_sync)
        {
            _buffered = _buffered[consumed.GetInteger()..];
        }
    }

    public override void CancelPendingRead()
    {
        TaskCompletionSource<ReadResult>? pending = null;
        TaskCompletionSource requested;
        lock (_sync)
        {
            requested = _cancelRequested;
            _cancelRequested = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            if (_pending != null && !HoldCancellations)
            {
                pending = _pending;
                _pending = null;
            }
            else
            {
                _cancelPending = true;
            }
        }

        pending?.SetResult(new ReadResult(new ReadOnlySequence<byte>(_buffered), isCanceled: true, isCompleted: false));
        requested.TrySetResult();
    }

    public override void Complete(Exception? exception = null)
    {
    }

    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        lock (_sync)
        {
            _readCount++;
            if (_cancelPending)
            {
                _cancelPending = false;
                return new(new ReadResult(new ReadOnlySequence<byte>(_buffered), isCanceled: true, isCompleted: false));
            }

            _pending = new TaskCompletionSource<ReadResult>(TaskCreationOptions.RunContinuationsAsynchronously);
            return new(_pending.Task);
        }
    }

    public override bool TryRead(out ReadResult result) => throw new NotSupportedException();
}
