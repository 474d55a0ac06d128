using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using HeaderFraming.Codecs;
using HeaderFraming.Internal;
using HeaderFraming.Testing;

namespace HeaderFraming.Tests.Infrastructure;

/// <summary>
/// Many loopback TCP connections, both ends in this process, each end sending checksummed frames of random sizes from
/// several concurrent writers sharing one <see cref="FramedConnection.SendAsync(ReadOnlyMemory{byte}, CancellationToken)"/>
/// while it reads and checks the other end's frames (<see cref="ChecksummedReceiver"/>). Used by <c>LoadTests</c> (a fixed
/// number of frames) and the soak (a fixed duration).
/// </summary>
public static class LoadRun
{
    public const int MaxPayloadLength = 64 * 1024;

    public sealed class Settings
    {
        public int Connections { get; init; } = 200;

        /// <summary>Concurrent writers on each end of each connection.</summary>
        public int WritersPerEnd { get; init; } = 2;

        /// <summary>Frames each writer sends (ignored when <see cref="Duration"/> is set).</summary>
        public int FramesPerWriter { get; init; } = 5000;

        /// <summary>When set, writers send until this much time has passed instead of a fixed number of frames.</summary>
        public TimeSpan? Duration { get; init; }

        public long MaxBufferedSendBytes { get; init; } = 256 * 1024;

        public int Seed { get; init; } = 6;
    }

    public sealed record Result(
        long Frames,
        long EmptyFrames,
        long PayloadBytes,
        TimeSpan Elapsed,
        long PeakManagedBytes,
        long PeakBufferedSendBytes,
        long BaselineManagedBytes,
        long RetainedManagedBytes,
        long PeakWorkingSetBytes,
        long AllocatedBytes,
        long PoolGrowthBytes,
        long PoolRetainedBytes,
        int Gen0Collections,
        int Gen2Collections)
    {
        /// <summary>Bytes allocated during the run per payload byte moved (the target: at most 0.10).</summary>
        public double AllocatedPerPayloadByte => PayloadBytes == 0 ? 0 : (double)AllocatedBytes / PayloadBytes;

        public override string ToString()
        {
            double seconds = Elapsed.TotalSeconds;
            return FormattableString.Invariant(
                $"{Frames:N0} frames ({EmptyFrames:N0} empty), {PayloadBytes / 1048576.0:N0} MiB of payload in {seconds:N1} s: ")
                + FormattableString.Invariant(
                $"{Frames / seconds:N0} frames/s, {PayloadBytes / 1048576.0 / seconds:N1} MiB/s; ")
                + FormattableString.Invariant(
                $"peak managed heap {PeakManagedBytes / 1048576.0:N0} MiB (baseline {BaselineManagedBytes / 1048576.0:N0} MiB, ")
                + FormattableString.Invariant(
                $"retained after dispose {RetainedManagedBytes / 1048576.0:N1} MiB), peak send buffer of one connection {PeakBufferedSendBytes / 1024.0:N0} KiB, ")
                + FormattableString.Invariant(
                $"process peak working set {PeakWorkingSetBytes / 1048576.0:N0} MiB; {AllocatedBytes / 1048576.0:N0} MiB allocated ")
                + FormattableString.Invariant(
                $"({AllocatedPerPayloadByte:P1} of the payload bytes moved; of it, {PoolGrowthBytes / 1048576.0:N0} MiB of buffer-pool growth, ")
                + FormattableString.Invariant(
                $"{PoolRetainedBytes / 1048576.0:N0} MiB kept by the pool for reuse after dispose), {Gen0Collections} gen0 / {Gen2Collections} gen2 GCs");
        }
    }

    /// <summary>The size of a writer's next payload, 0 to 64 KiB. Each writer starts with the edges (64 KiB, 0, 1, 11, 12
    /// bytes); then 1% are empty, 4% are 1-11 bytes (the short form), 85% are 12-256 bytes, 9.5% are 257 bytes to 4 KiB and
    /// 0.5% are 4 KiB to 64 KiB: about 500 bytes on average, so that the large frames that test reassembly and
    /// backpressure are there without making the run a bulk transfer dominated by memory bandwidth.</summary>
    public static int NextPayloadLength(Random random, long index)
    {
        switch (index)
        {
            case 0: return MaxPayloadLength;
            case 1: return 0;
            case 2: return 1;
            case 3: return Checksummed.Overhead - 1;
            case 4: return Checksummed.Overhead;
        }

        int p = random.Next(1000);
        return p switch
        {
            < 10 => 0,
            < 50 => random.Next(1, Checksummed.Overhead),
            < 900 => random.Next(Checksummed.Overhead, 257),
            < 995 => random.Next(257, 4097),
            _ => random.Next(4097, MaxPayloadLength + 1),
        };
    }

    /// <summary>Runs the load; fails (throws) on any lost, repeated, reordered or corrupt frame, or with a
    /// <see cref="TimeoutException"/> when no end has received a frame for <paramref name="limit"/> (a hang: a slow machine
    /// makes the run longer, never stops its progress).</summary>
    public static async Task<Result> RunAsync(Settings settings, TimeSpan limit, Action<string> log)
    {
        long baseline = GC.GetTotalMemory(forceFullCollection: true);
        long poolRetainedBefore = BlockMemoryPool.Default.RetainedBytes;
        int gen0Before = GC.CollectionCount(0);
        int gen2Before = GC.CollectionCount(2);

        using var failed = new CancellationTokenSource();
        var ends = new List<End>(settings.Connections * 2);
        var sockets = new List<Socket>(settings.Connections * 2);
        var options = new FramedConnectionOptions { MaxBufferedSendBytes = settings.MaxBufferedSendBytes };
        options.Reader.MaxFrameLength = MaxPayloadLength;
        IFrameCodec codec = BinaryLengthCodec.UInt32BigEndian;

        using (var listener = new TcpListener(IPAddress.Loopback, 0))
        {
            listener.Start(settings.Connections);
            for (int i = 0; i < settings.Connections; i++)
            {
                (Socket client, Socket server) = await Loopback.ConnectedPairAsync(listener, cancellationToken: failed.Token).WaitAsync(limit);
                sockets.Add(client);
                sockets.Add(server);
                var a = new End(FramedConnection.Create(client, codec, options), settings.WritersPerEnd);
                var b = new End(FramedConnection.Create(server, codec, options), settings.WritersPerEnd);
                a.Peer = b;
                b.Peer = a;
                ends.Add(a);
                ends.Add(b);
            }
        }

        log($"{settings.Connections} connections open, {settings.WritersPerEnd} writers on each end, "
            + (settings.Duration is TimeSpan d ? $"for {d.TotalSeconds:N0} s" : $"{settings.FramesPerWriter:N0} frames per writer"));

        // Allocations are counted from here, once the connections and the harness's own buffers exist: what the run allocates
        // while it moves the bytes (buffer-pool growth included).
        long allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        long poolBefore = BlockMemoryPool.Default.BytesCreated;
        var stopwatch = Stopwatch.StartNew();
        long peakManaged = 0;
        long peakBuffered = 0;
        using var sampling = new CancellationTokenSource();
        var stalled = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        Task sampler = Task.Run(async () =>
        {
            TimeSpan nextProgress = TimeSpan.FromSeconds(10);
            long lastFrames = 0;
            TimeSpan lastProgress = TimeSpan.Zero;
            while (!sampling.IsCancellationRequested)
            {
                // The watchdog: frames received anywhere (read racily: any change is progress).
                long framesNow = ends.Sum(e => e.Receiver.Frames);
                if (framesNow != lastFrames)
                {
                    lastFrames = framesNow;
                    lastProgress = stopwatch.Elapsed;
                }
                else if (stopwatch.Elapsed - lastProgress > limit)
                {
                    stalled.TrySetResult(FormattableString.Invariant(
                        $"no end received a frame for {limit.TotalSeconds:N0} s, {stopwatch.Elapsed.TotalSeconds:N0} s into the run: {framesNow:N0} frames received of {ends.Sum(e => e.SentFrames):N0} sent"));
                }

                peakManaged = Math.Max(peakManaged, GC.GetTotalMemory(forceFullCollection: false));
                foreach (End end in ends)
                {
                    peakBuffered = Math.Max(peakBuffered, end.Connection.BufferedSendBytes);
                }

                if (settings.Duration != null && stopwatch.Elapsed >= nextProgress)
                {
                    // Progress of a long soak (the counters are read racily: an estimate).
                    log(FormattableString.Invariant(
                        $"{stopwatch.Elapsed.TotalSeconds:N0} s: {ends.Sum(e => e.Receiver.Frames):N0} frames, {ends.Sum(e => e.Receiver.PayloadBytes) / 1048576.0:N0} MiB, peak managed heap {peakManaged / 1048576.0:N0} MiB"));
                    nextProgress += TimeSpan.FromSeconds(10);
                }

                try
                {
                    await Task.Delay(20, sampling.Token);
                }
                catch (OperationCanceledException)
                {
                }
            }
        });

        try
        {
            Task[] runs = ends.Select((end, i) => end.RunAsync(settings, settings.Seed * 100_003 + i, stopwatch, failed)).ToArray();
            Task all = Task.WhenAll(runs);
            if (await Task.WhenAny(all, stalled.Task) != all)
            {
                // Stop every connection; what they were waiting for is the report, not how they end (bounded all the same).
                failed.Cancel();
                await Task.WhenAny(all, Task.Delay(limit));
                throw new TimeoutException(await stalled.Task);
            }

            await all;
        }
        finally
        {
            stopwatch.Stop();
            sampling.Cancel();
            await sampler.WaitAsync(limit);
            failed.Cancel();
            await Task.WhenAll(ends.Select(e => e.Connection.DisposeAsync().AsTask())).WaitAsync(limit);
        }

        foreach (End end in ends)
        {
            end.Receiver.AssertReceivedEverything(end.Peer!.SentPerWriter, end.Peer.SentEmpty);
        }

        Assert.All(sockets, s => Assert.True(s.SafeHandle.IsClosed, "a disposed connection left its socket open"));
        long frames = ends.Sum(e => e.Receiver.Frames);
        long empty = ends.Sum(e => e.Receiver.EmptyFrames);
        long bytes = ends.Sum(e => e.Receiver.PayloadBytes);
        Assert.Equal(ends.Sum(e => e.SentFrames), frames);
        ends.Clear();
        sockets.Clear();

        // The buffer pool keeps the blocks it handed out for reuse: they are not a leak of the connections.
        long poolRetained = BlockMemoryPool.Default.RetainedBytes;
        long retained = GC.GetTotalMemory(forceFullCollection: true) - baseline - (poolRetained - poolRetainedBefore);
        using Process process = Process.GetCurrentProcess();
        return new Result(
            frames,
            empty,
            bytes,
            stopwatch.Elapsed,
            Math.Max(peakManaged, baseline),
            peakBuffered,
            baseline,
            retained,
            process.PeakWorkingSet64,
            GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore,
            BlockMemoryPool.Default.BytesCreated - poolBefore,
            poolRetained,
            GC.CollectionCount(0) - gen0Before,
            GC.CollectionCount(2) - gen2Before);
    }

    private sealed class End(FramedConnection connection, int writers)
    {
        public FramedConnection Connection { get; } = connection;

        public End? Peer { get; set; }

        public ChecksummedReceiver Receiver { get; } = new ChecksummedReceiver(writers, MaxPayloadLength);

        /// <summary>Non-empty frames each writer sent: the sequence number its next frame would carry.</summary>
        public int[] SentPerWriter { get; } = new int[writers];

        public long SentEmpty => Interlocked.Read(ref _sentEmpty);

        public long SentFrames => SentPerWriter.Sum(n => (long)n) + SentEmpty;

        private long _sentEmpty;

        public async Task RunAsync(Settings settings, int seed, Stopwatch clock, CancellationTokenSource failed)
        {
            try
            {
                Task reader = Task.Run(() => ReadAllAsync(failed.Token));
                Task[] senders = Enumerable.Range(0, SentPerWriter.Length)
                    .Select(w => Task.Run(() => WriteAsync(w, new Random(seed * 31 + w), settings, clock, failed.Token)))
                    .ToArray();
                await Task.WhenAll(senders);
                await Connection.CompleteSendingAsync(failed.Token);
                await reader;
            }
            catch
            {
                // The first failure stops every connection instead of leaving them to wait for the limit.
                failed.Cancel();
                throw;
            }
        }

        /// <summary>Each writer's payload buffer, reused for every frame (made before the run, like the connections).</summary>
        private readonly byte[][] _buffers = Enumerable.Range(0, writers).Select(_ => new byte[MaxPayloadLength]).ToArray();

        private async Task WriteAsync(int writer, Random random, Settings settings, Stopwatch clock, CancellationToken cancellationToken)
        {
            byte[] buffer = _buffers[writer];
            int sequence = 0;
            for (long i = 0; settings.Duration is TimeSpan duration ? clock.Elapsed < duration : i < settings.FramesPerWriter; i++)
            {
                int length = NextPayloadLength(random, i);
                Checksummed.Fill(buffer.AsSpan(0, length), writer, sequence, random);

                // The payload is copied into the connection before the send completes; the buffer is reused after the await.
                await Connection.SendAsync(buffer.AsMemory(0, length), cancellationToken);
                if (length == 0)
                {
                    Interlocked.Increment(ref _sentEmpty);
                }
                else
                {
                    SentPerWriter[writer] = ++sequence;
                }
            }
        }

        private async Task ReadAllAsync(CancellationToken cancellationToken)
        {
            while (true)
            {
                FrameReadResult result = await Connection.ReadFrameAsync(cancellationToken);
                if (result.IsCompleted)
                {
                    return;
                }

                Assert.True(result.HasFrame, "a read returned neither a frame nor the end of the stream");
                Receiver.Accept(result.Frame.Payload);
            }
        }
    }
}
