using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using HeaderFraming.Codecs;
using Xunit.Abstractions;

namespace HeaderFraming.Tests;

/// <summary>
/// One <see cref="FrameReader"/> over a real <see cref="Pipe"/>, cancelled 10,000 times at random points (by token and by
/// <see cref="FrameReader.CancelPendingRead"/>, from another thread) while a concurrent writer streams sequence-numbered,
/// checksummed frames in random pieces: every frame arrives exactly once, in order, intact.
/// </summary>
public class CancellationStormTests
{
    private const int Cancellations = 10_000;

    // A hang is a storm that stops moving, however slow the machine: the test fails when neither frames nor cancellations
    // advance for this long (a healthy run takes about a second; a loaded 2-core machine can make it a minute).
    private static readonly TimeSpan s_noProgressLimit = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan s_totalLimit = TimeSpan.FromMinutes(5);

    private readonly ITestOutputHelper _output;

    public CancellationStormTests(ITestOutputHelper output) => _output = output;

    // With timeouts configured (long enough never to fire), the reader's own timer shares CancelPendingRead with the storm.
    public static TheoryData<string, bool> Codecs() => new()
    {
        { "ascii", false },
        { "u32be", false },
        { "varint", false },
        { "memcached", false },
        { "u32be", true },
        { "varint", true },
    };

    [Theory]
    [MemberData(nameof(Codecs))]
    public async Task TenThousandCancellationsAtRandomPointsLoseDuplicateReorderAndCorruptNothing(string codecName, bool withTimeouts)
    {
        IFrameCodec codec = codecName switch
        {
            "ascii" => AsciiDecimalCodec.Default,
            "u32be" => BinaryLengthCodec.UInt32BigEndian,
            "varint" => VarintCodec.Instance,
            _ => new BinaryLengthCodec(4, Endianness.BigEndian, fieldOffset: 8, headerLength: 24),
        };
        int seed = Environment.TickCount;
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 256 * 1024, resumeWriterThreshold: 128 * 1024, minimumSegmentSize: 512, useSynchronizationContext: false));
        var reader = new FrameReader(pipe.Reader, codec, withTimeouts
            ? new FrameReaderOptions { IdleTimeout = TimeSpan.FromSeconds(30), FrameTimeout = TimeSpan.FromSeconds(30) }
            : null);
        var stopWriting = new CancellationTokenSource();
        CancellationTokenSource? current = null;
        bool readerDone = false;
        long framesRead = 0;
        int cancellationsSeen = 0;
        long framesStarted = 0;
        int readerWaiting = 0;
        int writerWaiting = 0;

        Task<long> writer = Task.Run(async () =>
        {
            var random = new Random(seed);
            long sequence = 0;
            while (!stopWriting.IsCancellationRequested)
            {
                byte[] frame = BuildFrame(codec, sequence++, random);
                Volatile.Write(ref framesStarted, sequence);
                // Random pieces, each flushed: cancellations land mid-header, mid-payload and between frames.
                int offset = 0;
                while (offset < frame.Length)
                {
                    int size = Math.Min(frame.Length - offset, 1 + random.Next(random.Next(2) == 0 ? 8 : 4096));
                    Volatile.Write(ref writerWaiting, 1);
                    await pipe.Writer.WriteAsync(frame.AsMemory(offset, size));
                    Volatile.Write(ref writerWaiting, 0);
                    offset += size;
                }
            }

            await pipe.Writer.CompleteAsync();
            return sequence;
        });

        // A dedicated thread: a spinning pool thread would starve the reader's and writer's continuations on a 2-core machine.
        Task canceller = Task.Factory.StartNew(() =>
        {
            var random = new Random(seed + 1);
            while (!Volatile.Read(ref readerDone))
            {
                Thread.SpinWait(random.Next(1, 200));
                if (random.Next(2) == 0)
                {
                    reader.CancelPendingRead();
                }
                else
                {
                    Volatile.Read(ref current)?.Cancel();
                }
            }
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

        Task<(long Frames, int Cancellations)> reading = Task.Run(async () =>
        {
            long expected = 0;
            int cancellations = 0;
            try
            {
                while (true)
                {
                    var cts = new CancellationTokenSource();
                    Volatile.Write(ref current, cts);
                    FrameReadResult result;
                    try
                    {
                        Volatile.Write(ref readerWaiting, 1);
                        result = await reader.ReadFrameAsync(cts.Token);
                    }
                    catch (OperationCanceledException)
                    {
                        Volatile.Write(ref cancellationsSeen, ++cancellations);
                        continue;
                    }
                    finally
                    {
                        Volatile.Write(ref readerWaiting, 0);
                    }

                    if (result.IsCanceled)
                    {
                        Volatile.Write(ref cancellationsSeen, ++cancellations);
                        continue;
                    }

                    if (result.IsCompleted)
                    {
                        return (expected, cancellations);
                    }

                    CheckFrame(result.Frame.Payload, expected++);
                    Volatile.Write(ref framesRead, expected);
                    if (cancellations >= Cancellations)
                    {
                        stopWriting.Cancel();
                    }
                }
            }
            finally
            {
                Volatile.Write(ref readerDone, true);
            }
        });

        var watch = System.Diagnostics.Stopwatch.StartNew();
        TimeSpan lastProgressAt = TimeSpan.Zero;
        long lastProgress = -1;
        while (!reading.IsCompleted)
        {
            await Task.WhenAny(reading, Task.Delay(TimeSpan.FromMilliseconds(250)));
            long progress = Volatile.Read(ref framesRead) + Volatile.Read(ref cancellationsSeen);
            if (progress != lastProgress)
            {
                lastProgress = progress;
                lastProgressAt = watch.Elapsed;
            }

            if (!reading.IsCompleted && (watch.Elapsed - lastProgressAt > s_noProgressLimit || watch.Elapsed > s_totalLimit))
            {
                // Stop the storm's own threads (the canceller spins) before failing.
                Volatile.Write(ref readerDone, true);
                stopWriting.Cancel();
                Assert.Fail(
                    $"the storm stopped moving (seed {seed}): after {watch.Elapsed.TotalSeconds:F0} s, {Volatile.Read(ref framesRead):N0} frames read, "
                    + $"{Volatile.Read(ref cancellationsSeen):N0} cancellations seen, {Volatile.Read(ref framesStarted):N0} frames started by the writer; "
                    + $"the reader is {(Volatile.Read(ref readerWaiting) == 1 ? "inside ReadFrameAsync" : "not reading")}, the writer "
                    + $"{(Volatile.Read(ref writerWaiting) == 1 ? "inside WriteAsync" : "not writing")}, the writer task {writer.Status}");
            }
        }

        (long frames, int observed) = await reading;
        long written = await writer.WaitAsync(s_noProgressLimit);
        await canceller.WaitAsync(s_noProgressLimit);
        reader.Complete();

        _output.WriteLine($"{codecName}{(withTimeouts ? " with timeouts" : string.Empty)}: {frames:N0} frames, {observed:N0} cancellations observed, seed {seed}");
        Assert.True(observed >= Cancellations, $"only {observed} cancellations were observed (seed {seed})");
        Assert.Equal(written, frames);
    }

    private static byte[] BuildFrame(IFrameCodec codec, long sequence, Random random)
    {
        // Payload: sequence (8) | random bytes | FNV-1a of everything before (8).
        int bodyLength = random.Next(4) == 0 ? random.Next(2000) : random.Next(40);
        byte[] payload = new byte[8 + bodyLength + 8];
        BinaryPrimitives.WriteInt64LittleEndian(payload, sequence);
        random.NextBytes(payload.AsSpan(8, bodyLength));
        BinaryPrimitives.WriteUInt64LittleEndian(payload.AsSpan(8 + bodyLength), Fnv1a(payload.AsSpan(0, 8 + bodyLength)));
        int headerLength = codec.GetHeaderLength(payload.Length);
        byte[] frame = new byte[headerLength + payload.Length];
        codec.WriteHeader(payload.Length, frame);
        payload.CopyTo(frame, headerLength);
        return frame;
    }

    private static void CheckFrame(in ReadOnlySequence<byte> payload, long expectedSequence)
    {
        byte[] bytes = payload.ToArray();
        Assert.True(bytes.Length >= 16, $"frame {expectedSequence} has a {bytes.Length}-byte payload");
        long sequence = BinaryPrimitives.ReadInt64LittleEndian(bytes);
        if (sequence != expectedSequence)
        {
            Assert.Fail($"frame {sequence} arrived where {expectedSequence} was expected");
        }

        ulong checksum = BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(bytes.Length - 8));
        if (checksum != Fnv1a(bytes.AsSpan(0, bytes.Length - 8)))
        {
            Assert.Fail($"frame {sequence} is corrupted");
        }
    }

    private static ulong Fnv1a(ReadOnlySpan<byte> bytes)
    {
        ulong hash = 14695981039346656037;
        foreach (byte b in bytes)
        {
            hash = (hash ^ b) * 1099511628211;
        }

        return hash;
    }
}
