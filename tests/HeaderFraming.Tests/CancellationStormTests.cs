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
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(60);

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

        Task<long> writer = Task.Run(async () =>
        {
            var random = new Random(seed);
            long sequence = 0;
            while (!stopWriting.IsCancellationRequested)
            {
                byte[] frame = BuildFrame(codec, sequence++, random);
                // Random pieces, each flushed: cancellations land mid-header, mid-payload and between frames.
                int offset = 0;
                while (offset < frame.Length)
                {
                    int size = Math.Min(frame.Length - offset, 1 + random.Next(random.Next(2) == 0 ? 8 : 4096));
                    await pipe.Writer.WriteAsync(frame.AsMemory(offset, size));
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
                        result = await reader.ReadFrameAsync(cts.Token);
                    }
                    catch (OperationCanceledException)
                    {
                        cancellations++;
                        continue;
                    }

                    if (result.IsCanceled)
                    {
                        cancellations++;
                        continue;
                    }

                    if (result.IsCompleted)
                    {
                        return (expected, cancellations);
                    }

                    CheckFrame(result.Frame.Payload, expected++);
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

        (long frames, int observed) = await reading.WaitAsync(s_timeout);
        long written = await writer.WaitAsync(s_timeout);
        await canceller.WaitAsync(s_timeout);
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
