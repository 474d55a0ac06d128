using System;
using System.IO;
using System.IO.Pipelines;
using System.Threading;
using System.Threading.Tasks;
using HeaderFraming.Internal;

namespace HeaderFraming.Transports;

/// <summary>Writes one frame with a <see cref="FrameWriter"/> (a payload, a header and a payload, a serialized value).</summary>
internal delegate void WriteFrame<TState>(FrameWriter writer, in TState state);

/// <summary>
/// Many senders, one <see cref="PipeWriter"/> (Kestrel's <c>ConcurrentPipeWriter</c> plays this part): frames reach the
/// pipe whole and <b>in the order the sends were called</b>, flushes are coalesced, and backpressure queues senders instead
/// of letting them race.
/// </summary>
/// <remarks>
/// <para><b>Order.</b> A send writes its frame at once when nothing is queued and no flush is waiting for backpressure;
/// otherwise it joins the back of a FIFO queue, and only the queue's drain writes queued frames, front first. So frames of
/// un-awaited calls from one task, and of calls from many tasks, are written in the order the calls took the lock.</para>
/// <para><b>Coalescing.</b> Every sender counts itself in <see cref="_sendersInFlight"/> before it takes the lock. One that
/// writes while others are on their way leaves the flush to them (up to <see cref="_coalescingBytes"/> unflushed); the
/// last one flushes for everybody. Frames from 16 concurrent senders leave in few transport writes.</para>
/// <para><b>Backpressure.</b> A flush that does not complete at once (the pipe is above its pause threshold) makes later
/// sends queue. When it completes, the drain writes queued frames until the coalescing bound, flushes, and goes on until the
/// queue is empty or a flush waits again. A queued send completes when the flush after its frame completes.</para>
/// <para><b>Cancellation</b> only ever removes a send that is still queued (nothing of it was written): a cancelled send
/// throws <see cref="OperationCanceledException"/> and wrote nothing; a send that returns normally wrote its whole frame.
/// The other frames keep their order either way.</para>
/// </remarks>
internal sealed class OrderedFrameSender
{
    private readonly object _lock = new object();
    private readonly FrameWriter _writer;
    private readonly PipeWriter _output;
    private readonly long _coalescingBytes;
    private readonly TransportPipe? _transport;

    private int _sendersInFlight;
    private bool _unflushed;
    private long _bytesFlushed;
    private bool _flushPending;
    private QueuedSend? _head;
    private QueuedSend? _tail;
    private Exception? _fault;
    private State _state;
    private long _framesWritten;
    private TaskCompletionSource<bool>? _drained;

    /// <summary>Creates the sender.</summary>
    /// <param name="writer">Writes frames into <paramref name="output"/>.</param>
    /// <param name="output">The pipe the frames go to.</param>
    /// <param name="coalescingBytes">How many bytes a sender may leave unflushed for the next one.</param>
    /// <param name="transport">The transport behind <paramref name="output"/>, whose own error
    /// (<see cref="TransportPipe.SendFault"/>) is asked for when the pipe stops accepting data; <see langword="null"/> for a
    /// pipe written directly.</param>
    public OrderedFrameSender(FrameWriter writer, PipeWriter output, long coalescingBytes, TransportPipe? transport = null)
    {
        _writer = writer;
        _output = output;
        _coalescingBytes = coalescingBytes;
        _transport = transport;
    }

    private enum State
    {
        Open,
        Completed,
        Disposed,
    }

    /// <summary>Frames written into the pipe.</summary>
    public long FramesWritten => Interlocked.Read(ref _framesWritten);

    /// <summary>Bytes written into the pipe (header and payload).</summary>
    public long BytesWritten
    {
        get
        {
            lock (_lock)
            {
                return _writer.BytesWritten;
            }
        }
    }

    /// <summary>Bytes flushed into the pipe.</summary>
    public long BytesFlushed => Interlocked.Read(ref _bytesFlushed);

    /// <summary>Sends queued behind backpressure (tests).</summary>
    public int QueuedCount
    {
        get
        {
            lock (_lock)
            {
                int count = 0;
                for (QueuedSend? node = _head; node != null; node = node.Next)
                {
                    count++;
                }

                return count;
            }
        }
    }

    /// <summary>Writes one frame, in call order; see the remarks of <see cref="OrderedFrameSender"/>.</summary>
    public ValueTask SendAsync<TState>(TState state, WriteFrame<TState> write, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return new ValueTask(Task.FromCanceled(cancellationToken));
        }

        Interlocked.Increment(ref _sendersInFlight);
        QueuedSend<TState> queued;
        lock (_lock)
        {
            try
            {
                ThrowIfCannotSendLocked();
            }
            catch
            {
                LeaveLocked();
                throw;
            }

            if (!_flushPending && _head == null)
            {
                return WriteLocked(state, write, cancellationToken);
            }

            // Behind backpressure or behind earlier sends: keep the call order. The pending flush's drain carries whatever
            // this sender leaves unflushed.
            queued = new QueuedSend<TState>(state, write);
            Enqueue(queued);
            Interlocked.Decrement(ref _sendersInFlight);
        }

        queued.Watch(cancellationToken);
        return new ValueTask(queued.Task);
    }

    /// <summary>No more sends: later calls throw <see cref="InvalidOperationException"/>. Completes when every frame
    /// accepted before has been written and flushed, then completes the pipe writer (unless <paramref name="completeWriter"/>
    /// is <see langword="false"/>: a detach hands a pipe it does not own back open).</summary>
    public async Task CompleteAsync(CancellationToken cancellationToken, bool completeWriter = true)
    {
        Task drained;
        lock (_lock)
        {
            if (_state == State.Open)
            {
                _state = State.Completed;
            }

            drained = WhenDrainedLocked();
        }

        try
        {
            await TaskHelpers.WaitAsync(drained, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // A flush failed: the fault is reported by whoever asks next (the transport's, or this sender's).
        }

        if (completeWriter)
        {
            lock (_lock)
            {
                _writer.Complete();
            }
        }
    }

    /// <summary>Marks the sender disposed: later sends throw <see cref="ObjectDisposedException"/>.</summary>
    public void MarkDisposed()
    {
        lock (_lock)
        {
            _state = State.Disposed;
        }
    }

    /// <summary>Fails every queued send with an <see cref="IOException"/> around <paramref name="reason"/> (the connection is
    /// closing and they can no longer be written).</summary>
    public void Abandon(Exception reason)
    {
        lock (_lock)
        {
            _fault ??= new IOException(reason.Message, reason);
            FailQueueLocked(_fault);
            _drained?.TrySetResult(true);
        }
    }

    /// <summary>The fault that stopped sending, if any (from a flush, or from the transport).</summary>
    public Exception? Fault
    {
        get
        {
            lock (_lock)
            {
                return _fault;
            }
        }
    }

    /// <summary>Records a transport fault found after the fact (by the connection's shutdown) as this sender's.</summary>
    public Exception RecordFault(Exception ex)
    {
        lock (_lock)
        {
            return RecordFaultLocked(ex);
        }
    }

    private Task WhenDrainedLocked()
    {
        if (!_flushPending && _head == null)
        {
            if (_unflushed && _fault == null)
            {
                ValueTask flush = FlushLocked(CancellationToken.None);
                return flush.IsCompletedSuccessfully ? Task.CompletedTask : flush.AsTask();
            }

            return Task.CompletedTask;
        }

        _drained ??= new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        return _drained.Task;
    }

    /// <summary>Called under the lock with no flush pending and nothing queued, by a sender counted in
    /// <see cref="_sendersInFlight"/>: writes the frame, leaves the count, and flushes unless a later sender will.</summary>
    private ValueTask WriteLocked<TState>(TState state, WriteFrame<TState> write, CancellationToken cancellationToken)
    {
        try
        {
            write(_writer, state);
        }
        catch
        {
            LeaveLocked();
            throw;
        }

        _framesWritten++;
        _unflushed = true;
        if (Interlocked.Decrement(ref _sendersInFlight) > 0 && _writer.BytesWritten - _bytesFlushed < _coalescingBytes)
        {
            // Another sender is about to write: its flush carries this frame too (up to _coalescingBytes, so that senders
            // arriving without a pause cannot postpone the flush for ever).
            return default;
        }

        ValueTask flush = FlushLocked(cancellationToken);
        return flush.IsCompleted || !cancellationToken.CanBeCanceled ? flush : WaitUnlessCanceledAsync(flush.AsTask(), cancellationToken);
    }

    /// <summary>This sender's frame is written: cancelling the wait for backpressure returns at once, successfully (the
    /// frame will be sent); only a failed flush is an error.</summary>
    private static async ValueTask WaitUnlessCanceledAsync(Task flush, CancellationToken cancellationToken)
    {
        try
        {
            await TaskHelpers.WaitAsync(flush, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested && !flush.IsFaulted)
        {
        }
    }

    /// <summary>A counted sender gives up without writing; if it was the last, it flushes what others left unflushed.</summary>
    private void LeaveLocked()
    {
        if (Interlocked.Decrement(ref _sendersInFlight) == 0 && _unflushed && !_flushPending && _fault == null)
        {
            ObserveFlush(FlushLocked(CancellationToken.None));
        }
    }

    private ValueTask FlushLocked(CancellationToken cancellationToken)
    {
        ValueTask<FlushResult> flush = StartFlushLocked();

        if (flush.IsCompletedSuccessfully)
        {
            if (flush.Result.IsCompleted)
            {
                return new ValueTask(Task.FromException(RecordFaultLocked(null)));
            }

            if (_head == null)
            {
                _drained?.TrySetResult(true);
            }

            return default;
        }

        _flushPending = true;
        return new ValueTask(AwaitFlushThenDrainAsync(flush, batch: null));
    }

    /// <summary>Flushes everything written so far. The frames are in the buffer: the flush is never cancelled by a caller (a
    /// cancelled flush of a stream could leave half a frame on the wire); a caller's token only abandons the wait for
    /// backpressure. A flush that throws comes back as a faulted task, which the caller's await reports.</summary>
    private ValueTask<FlushResult> StartFlushLocked()
    {
        _unflushed = false;
        Interlocked.Exchange(ref _bytesFlushed, _writer.BytesWritten);
        try
        {
            // The frame writer hands its frames to the pipe in batches: all of them, before the pipe flushes.
            _writer.Commit();
            return _output.FlushAsync(CancellationToken.None);
        }
        catch (Exception ex)
        {
            return new ValueTask<FlushResult>(Task.FromException<FlushResult>(ex));
        }
    }

    /// <summary>Waits for a flush held by backpressure; then completes the sends whose frames it carried and drains the
    /// queue. Runs on the pipe's writer scheduler (the thread pool), never inside a sender.</summary>
    private async Task AwaitFlushThenDrainAsync(ValueTask<FlushResult> flush, QueuedSend? batch)
    {
        Exception? failure = null;
        bool stopped = false;
        try
        {
            // Completed: the pipe's reader (the transport) is gone; the transport knows why.
            stopped = (await flush.ConfigureAwait(false)).IsCompleted;
        }
        catch (Exception ex)
        {
            failure = ex;
        }

        lock (_lock)
        {
            _flushPending = false;
            if (failure != null || stopped)
            {
                Exception fault = RecordFaultLocked(failure);
                CompleteBatch(batch, fault);
                FailQueueLocked(fault);
                _drained?.TrySetResult(true);
                throw fault;
            }

            CompleteBatch(batch, null);
            DrainLocked();
        }
    }

    /// <summary>Writes queued frames front first, flushing every <see cref="_coalescingBytes"/>, until the queue is empty or
    /// a flush waits for backpressure (whose completion drains again).</summary>
    private void DrainLocked()
    {
        QueuedSend? batchHead = null;
        QueuedSend? batchTail = null;
        while (true)
        {
            QueuedSend? node = _head;
            if (node != null)
            {
                _head = node.Next;
                if (_head == null)
                {
                    _tail = null;
                }

                node.Next = null;
                if (!node.TryStartWriting())
                {
                    continue;
                }

                try
                {
                    if (_fault != null)
                    {
                        throw new IOException(_fault.Message, _fault);
                    }

                    node.Write(_writer);
                }
                catch (Exception ex)
                {
                    node.Finish(ex);
                    continue;
                }

                _framesWritten++;
                _unflushed = true;
                if (batchTail == null)
                {
                    batchHead = node;
                }
                else
                {
                    batchTail.Next = node;
                }

                batchTail = node;
                if (_writer.BytesWritten - _bytesFlushed < _coalescingBytes)
                {
                    continue;
                }
            }
            else if (!_unflushed || Volatile.Read(ref _sendersInFlight) > 0)
            {
                // Nothing queued: whatever is unflushed belongs to a sender still on its way, whose flush carries it.
                CompleteBatch(batchHead, null);
                if (!_unflushed)
                {
                    _drained?.TrySetResult(true);
                }

                return;
            }

            ValueTask<FlushResult> flush = StartFlushLocked();

            if (flush.IsCompletedSuccessfully && !flush.Result.IsCompleted)
            {
                CompleteBatch(batchHead, null);
                batchHead = batchTail = null;
                if (_head == null)
                {
                    _drained?.TrySetResult(true);
                    return;
                }

                continue;
            }

            // Backpressure (or a failure, which the continuation reports): the batch completes with this flush.
            _flushPending = true;
            ObserveFlush(new ValueTask(AwaitFlushThenDrainAsync(flush, batchHead)));
            return;
        }
    }

    private static void CompleteBatch(QueuedSend? batch, Exception? failure)
    {
        while (batch != null)
        {
            QueuedSend? next = batch.Next;
            batch.Next = null;
            batch.Finish(failure);
            batch = next;
        }
    }

    private void Enqueue(QueuedSend node)
    {
        if (_tail == null)
        {
            _head = _tail = node;
        }
        else
        {
            _tail.Next = node;
            _tail = node;
        }
    }

    private void FailQueueLocked(Exception fault)
    {
        QueuedSend? node = _head;
        _head = _tail = null;
        while (node != null)
        {
            QueuedSend? next = node.Next;
            node.Next = null;
            if (node.TryStartWriting())
            {
                node.Finish(new IOException(fault.Message, fault));
            }

            node = next;
        }
    }

    private static void ObserveFlush(ValueTask flush)
    {
        if (!flush.IsCompleted)
        {
            flush.AsTask().ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
        else if (flush.IsFaulted)
        {
            _ = flush.AsTask().Exception;
        }
    }

    private Exception RecordFaultLocked(Exception? ex)
    {
        Exception cause = ex ?? _transport?.SendFault ?? new IOException("The transport stopped accepting data.");
        _fault ??= new IOException("The connection can no longer send: " + cause.Message, cause);
        return _fault;
    }

    private void ThrowIfCannotSendLocked()
    {
        if (_state == State.Disposed)
        {
            throw new ObjectDisposedException(nameof(FramedConnection), "The connection was disposed; no more frames can be sent.");
        }

        if (_fault != null)
        {
            throw new IOException(_fault.Message, _fault);
        }

        if (_transport?.SendFault is Exception fault)
        {
            throw RecordFaultLocked(fault);
        }

        if (_state == State.Completed)
        {
            ThrowHelper.ThrowInvalidOperation("Sending was completed (CompleteSendingAsync); no more frames can be sent.");
        }
    }

    /// <summary>A send waiting in the queue, in call order.</summary>
    private abstract class QueuedSend : TaskCompletionSource<bool>
    {
        private const int Queued = 0;
        private const int Writing = 1;
        private const int Canceled = 2;

        private CancellationTokenRegistration _registration;
        private CancellationToken _cancellationToken;
        private int _state;

        protected QueuedSend()
            : base(TaskCreationOptions.RunContinuationsAsynchronously)
        {
        }

        /// <summary>The next send in the queue, or in the batch of a flush once written.</summary>
        public QueuedSend? Next { get; set; }

        public abstract void Write(FrameWriter writer);

        public void Watch(CancellationToken cancellationToken)
        {
            if (cancellationToken.CanBeCanceled)
            {
                _cancellationToken = cancellationToken;
                _registration = cancellationToken.Register(static s => ((QueuedSend)s!).Cancel(), this);
            }
        }

        /// <summary>Under the sender's lock: claims the send for writing unless it was cancelled.</summary>
        public bool TryStartWriting() => Interlocked.CompareExchange(ref _state, Writing, Queued) == Queued;

        public void Finish(Exception? failure)
        {
            _registration.Dispose();
            if (failure == null)
            {
                TrySetResult(true);
            }
            else
            {
                TrySetException(failure);
            }
        }

        private void Cancel()
        {
            // Still queued: nothing of it was written, and the drain will skip it.
            if (Interlocked.CompareExchange(ref _state, Canceled, Queued) == Queued)
            {
                TrySetCanceled(_cancellationToken);
            }
        }
    }

    private sealed class QueuedSend<TState>(TState state, WriteFrame<TState> write) : QueuedSend
    {
        private readonly TState _state = state;
        private readonly WriteFrame<TState> _write = write;

        public override void Write(FrameWriter writer) => _write(writer, _state);
    }
}
