using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using HeaderFraming.Codecs;
using HeaderFraming.Transports;

namespace HeaderFraming.Tests.Connections;

/// <summary>The ordered coalescing sender on its own, over a <see cref="Pipe"/> whose reader the test drives.</summary>
public sealed class OrderedFrameSenderTests
{
    private static readonly TimeSpan s_limit = TimeSpan.FromSeconds(20);

    private static readonly WriteFrame<int> s_writeIndex = static (FrameWriter writer, in int index) =>
    {
        Span<byte> payload = stackalloc byte[100];
        payload.Fill((byte)index);
        BinaryPrimitives.WriteInt32BigEndian(payload, index);
        writer.Write(payload);
    };

    private static (OrderedFrameSender Sender, Pipe Pipe) Create(long pause = 256, long coalescing = 0)
    {
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: pause, resumeWriterThreshold: pause / 2, useSynchronizationContext: false));
        var writer = new FrameWriter(pipe.Writer, BinaryLengthCodec.UInt32BigEndian);
        return (new OrderedFrameSender(writer, pipe.Writer, coalescing), pipe);
    }

    /// <summary>Reads every frame of the pipe until its writer completes, returning each frame's index.</summary>
    private static async Task<List<int>> ReadIndicesAsync(PipeReader reader, TimeSpan? delayPerRead = null)
    {
        var frames = new FrameReader(reader, BinaryLengthCodec.UInt32BigEndian);
        var indices = new List<int>();
        while (true)
        {
            FrameReadResult result = await frames.ReadFrameAsync().AsTask().WaitAsync(s_limit);
            if (result.IsCompleted)
            {
                return indices;
            }

            indices.Add(BinaryPrimitives.ReadInt32BigEndian(result.Frame.Payload.FirstSpan));
            if (delayPerRead is TimeSpan delay)
            {
                await Task.Delay(delay);
            }
        }
    }

    [Fact]
    public async Task UnawaitedSendsHeldByBackpressureAreWrittenInCallOrder()
    {
        (OrderedFrameSender sender, Pipe pipe) = Create(pause: 256);
        var sends = new List<Task>();
        for (int i = 0; i < 200; i++)
        {
            sends.Add(sender.SendAsync(i, s_writeIndex, CancellationToken.None).AsTask());
        }

        // The third frame passed the pause threshold: the rest wait in the queue, none written yet.
        Assert.True(sender.QueuedCount > 150, $"only {sender.QueuedCount} sends were queued");
        Task<List<int>> reading = ReadIndicesAsync(pipe.Reader, TimeSpan.FromMilliseconds(1));
        await Task.WhenAll(sends).WaitAsync(s_limit);
        await sender.CompleteAsync(CancellationToken.None);
        Assert.Equal(Enumerable.Range(0, 200), await reading);
    }

    [Fact]
    public async Task ACancelledQueuedSendWritesNothingAndTheOthersKeepTheirOrder()
    {
        (OrderedFrameSender sender, Pipe pipe) = Create(pause: 256);
        var sends = new List<(int Index, Task Task)>();
        var cancellations = new List<CancellationTokenSource>();
        for (int i = 0; i < 60; i++)
        {
            var cts = new CancellationTokenSource();
            cancellations.Add(cts);
            sends.Add((i, sender.SendAsync(i, s_writeIndex, cts.Token).AsTask()));
        }

        // Cancel every third send while they are still queued.
        for (int i = 10; i < 60; i += 3)
        {
            cancellations[i].Cancel();
        }

        Task<List<int>> reading = ReadIndicesAsync(pipe.Reader);
        await Task.WhenAny(Task.WhenAll(sends.Select(s => s.Task)), Task.Delay(s_limit));
        await sender.CompleteAsync(CancellationToken.None);
        List<int> received = await reading;

        int[] completed = sends.Where(s => s.Task.IsCompletedSuccessfully).Select(s => s.Index).ToArray();
        int[] cancelled = sends.Where(s => s.Task.IsCanceled).Select(s => s.Index).ToArray();
        Assert.Equal(60, completed.Length + cancelled.Length);
        Assert.NotEmpty(cancelled);
        Assert.Equal(completed, received);
    }

    [Fact]
    public async Task ConcurrentSendersShareFlushes()
    {
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 0, useSynchronizationContext: false));
        var counting = new CountingPipeWriter(pipe.Writer);
        var sender = new OrderedFrameSender(new FrameWriter(counting, BinaryLengthCodec.UInt32BigEndian), counting, coalescingBytes: 32 * 1024);

        // The first flush is held, as a socket's is under load, until the seven other writers' first sends have queued
        // behind it: whatever the scheduler does, those seven must then leave in the drain's one flush. (Without the hold,
        // a loaded 2-core CI machine ran the 8 writers one after another, never overlapping: 4,000 flushes.)
        int queuedWhenReleased = -1;
        counting.HoldFirstFlush = async () =>
        {
            var waited = System.Diagnostics.Stopwatch.StartNew();
            while (sender.QueuedCount < 7 && waited.Elapsed < s_limit / 2) // half: the writers' wait below must not time out first
            {
                await Task.Delay(1);
            }

            Volatile.Write(ref queuedWhenReleased, sender.QueuedCount);
        };
        Task<List<int>> reading = ReadIndicesAsync(pipe.Reader);
        using var start = new Barrier(8);
        // Each writer starts on a thread of its own, so the barrier does not wait for the thread pool to grow to eight.
        Task[] writers = Enumerable.Range(0, 8).Select(w => Task.Factory.StartNew(async () =>
        {
            start.SignalAndWait();
            for (int i = 0; i < 500; i++)
            {
                await sender.SendAsync(w * 10_000 + i, s_writeIndex, CancellationToken.None);
            }
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap()).ToArray();
        await Task.WhenAll(writers).WaitAsync(s_limit);
        await sender.CompleteAsync(CancellationToken.None);

        List<int> received = await reading;
        Assert.True(Volatile.Read(ref queuedWhenReleased) >= 7, $"the held flush gave up after {(s_limit / 2).TotalSeconds:N0} s with {queuedWhenReleased} of 7 sends queued behind it");
        Assert.Equal(4_000, received.Count);
        for (int w = 0; w < 8; w++)
        {
            // Each writer's own frames stay in its order.
            Assert.Equal(Enumerable.Range(w * 10_000, 500), received.Where(i => i / 10_000 == w));
        }

        // The held flush carried one frame; the seven queued behind it took one flush between them, not seven.
        Assert.True(counting.Flushes <= 4_000 - 6, $"{counting.Flushes} flushes for 4,000 frames: the seven sends queued behind a held flush did not share one");
    }

    [Fact]
    public async Task AFailedFlushFailsTheSendsItHeldAndEveryQueuedSend()
    {
        (OrderedFrameSender sender, Pipe pipe) = Create(pause: 256);
        var sends = Enumerable.Range(0, 20).Select(i => sender.SendAsync(i, s_writeIndex, CancellationToken.None).AsTask()).ToList();
        Assert.True(sender.QueuedCount > 0);

        // The reader goes away with an error: the pending flush completes, and nothing more can be written.
        pipe.Reader.Complete(new IOException("peer gone"));
        await Task.WhenAny(Task.WhenAll(sends), Task.Delay(s_limit));
        Assert.All(sends, s => Assert.True(s.IsCompleted, "a send never ended"));
        Assert.All(sends.Where(s => !s.IsCompletedSuccessfully), s => Assert.IsAssignableFrom<IOException>(s.Exception!.InnerException));
        Assert.Contains(sends, s => s.IsFaulted);
        await Assert.ThrowsAsync<IOException>(async () => await sender.SendAsync(99, s_writeIndex, CancellationToken.None));
    }

    [Fact]
    public async Task SendsAfterCompletionThrowInvalidOperationAndAfterDisposalObjectDisposed()
    {
        (OrderedFrameSender sender, Pipe pipe) = Create(pause: 1024 * 1024);
        await sender.SendAsync(1, s_writeIndex, CancellationToken.None);
        await sender.CompleteAsync(CancellationToken.None);
        Assert.Throws<InvalidOperationException>(() => sender.SendAsync(2, s_writeIndex, CancellationToken.None));
        sender.MarkDisposed();
        Assert.Throws<ObjectDisposedException>(() => sender.SendAsync(3, s_writeIndex, CancellationToken.None));
        Assert.Equal([1], await ReadIndicesAsync(pipe.Reader));
    }

    [Fact]
    public async Task AWrittenSendWhoseWaitIsCancelledStillSucceedsAndIsSent()
    {
        (OrderedFrameSender sender, Pipe pipe) = Create(pause: 64);
        using var cts = new CancellationTokenSource();

        // This frame passes the threshold: its flush waits for the reader. Cancelling abandons the wait, not the frame.
        ValueTask send = sender.SendAsync(7, s_writeIndex, cts.Token);
        Assert.False(send.IsCompleted);
        cts.Cancel();
        await send.AsTask().WaitAsync(s_limit);
        Task<List<int>> reading = ReadIndicesAsync(pipe.Reader);
        await sender.CompleteAsync(CancellationToken.None);
        Assert.Equal([7], await reading);
    }

    /// <summary>Counts the flushes that reach the pipe.</summary>
    private sealed class CountingPipeWriter(PipeWriter inner) : PipeWriter
    {
        private int _flushes;

        public int Flushes => Volatile.Read(ref _flushes);

        public override void Advance(int bytes) => inner.Advance(bytes);

        public override Memory<byte> GetMemory(int sizeHint = 0) => inner.GetMemory(sizeHint);

        public override Span<byte> GetSpan(int sizeHint = 0) => inner.GetSpan(sizeHint);

        public override void CancelPendingFlush() => inner.CancelPendingFlush();

        public override void Complete(Exception? exception = null) => inner.Complete(exception);

        /// <summary>Awaited by the first flush before it reaches the pipe; the others yield once.</summary>
        public Func<Task>? HoldFirstFlush { get; set; }

        // Every flush completes asynchronously, as a socket's does under load: senders that arrive meanwhile must share the
        // next flush.
        public override async ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
        {
            if (Interlocked.Increment(ref _flushes) == 1 && HoldFirstFlush is Func<Task> hold)
            {
                await Task.Yield();
                await hold();
            }
            else
            {
                await Task.Yield();
            }

            return await inner.FlushAsync(cancellationToken);
        }
    }
}
