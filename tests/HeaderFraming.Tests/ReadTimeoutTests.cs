using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using HeaderFraming.Codecs;
using Microsoft.Extensions.Time.Testing;

namespace HeaderFraming.Tests;

/// <summary>
/// The idle timeout, the frame timeout and the minimum data rate on a <see cref="FakeTimeProvider"/>: time moves only when a
/// test advances it, and the pipe runs the reader inline, so each step of a test is deterministic (no sleeps).
/// </summary>
public class ReadTimeoutTests
{
    private static readonly TimeSpan s_limit = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task AFrameFinishedOnTheFastPathDoesNotLeaveItsStartTimeToTheNextFrame()
    {
        // The repro of the bug: every frame completes 100 ms after its read starts, with the next frame's first two header
        // bytes arriving together with the end of the previous frame.
        var time = new FakeTimeProvider();
        var pipe = InlinePipe();
        var reader = new FrameReader(pipe.Reader, BinaryLengthCodec.UInt32BigEndian,
            new FrameReaderOptions { FrameTimeout = TimeSpan.FromMilliseconds(300), TimeProvider = time });
        byte[] frame = Frame(8);
        await pipe.Writer.WriteAsync(frame.AsMemory(0, 2));
        for (int i = 0; i < 10; i++)
        {
            ValueTask<FrameReadResult> read = reader.ReadFrameAsync();
            Assert.False(read.IsCompleted);
            time.Advance(TimeSpan.FromMilliseconds(100));
            await pipe.Writer.WriteAsync(Concat(frame.AsMemory(2), frame.AsMemory(0, 2)));
            FrameReadResult result = await read.AsTask().WaitAsync(s_limit);
            Assert.Equal(8, result.Frame.PayloadLength);
            Assert.Equal(i * frame.Length, result.Frame.StreamOffset);
        }
    }

    [Fact]
    public async Task AFrameThatTakesLongerThanTheFrameTimeoutFailsWithItsOffsetAndBytes()
    {
        var time = new FakeTimeProvider();
        var pipe = InlinePipe();
        var reader = new FrameReader(pipe.Reader, BinaryLengthCodec.UInt32BigEndian,
            new FrameReaderOptions { FrameTimeout = TimeSpan.FromMilliseconds(300), TimeProvider = time });
        byte[] frame = Frame(8);
        await pipe.Writer.WriteAsync(Concat(frame, frame.AsMemory(0, 5)));
        Assert.True((await reader.ReadFrameAsync()).HasFrame);
        ValueTask<FrameReadResult> read = reader.ReadFrameAsync();
        time.Advance(TimeSpan.FromMilliseconds(299));
        Assert.False(read.IsCompleted);
        time.Advance(TimeSpan.FromMilliseconds(1));
        FrameTimeoutException ex = await Assert.ThrowsAsync<FrameTimeoutException>(() => read.AsTask().WaitAsync(s_limit));

        Assert.Equal(FrameTimeoutReason.Frame, ex.Reason);
        Assert.Equal(FrameErrorKind.Timeout, ex.Kind);
        Assert.IsAssignableFrom<FrameException>(ex);
        Assert.Equal(frame.Length, ex.StreamOffset);
        Assert.Equal(5, ex.ReceivedBytes);
        Assert.Equal(TimeSpan.FromMilliseconds(300), ex.Elapsed);
        Assert.Contains("FrameReaderOptions.FrameTimeout", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Header bytes: [00 00 00 08]", ex.Message, StringComparison.Ordinal);

        // Faulted: the same exception again.
        Assert.Same(ex, await Assert.ThrowsAsync<FrameTimeoutException>(async () => await reader.ReadFrameAsync()));
    }

    [Fact]
    public async Task AFrameStartedByBytesThatAConnectionsTryReadFrameTookIsTimedFromThenNotFromTheLastWait()
    {
        // A connection's TryReadFrame takes bytes from the pipe outside a wait. The frame they start must be timed from
        // then: timed from the last wait's bytes, 10 s of healthy idleness earlier, it would fail at once.
        var time = new FakeTimeProvider();
        var pipe = InlinePipe();
        var reader = new FrameReader(pipe.Reader, BinaryLengthCodec.UInt32BigEndian,
            new FrameReaderOptions { FrameTimeout = TimeSpan.FromMilliseconds(300), TimeProvider = time });
        byte[] frame = Frame(8);
        await pipe.Writer.WriteAsync(frame);
        Assert.True((await reader.ReadFrameAsync().AsTask().WaitAsync(s_limit)).HasFrame);
        time.Advance(TimeSpan.FromSeconds(10));
        await pipe.Writer.WriteAsync(Concat(frame, frame.AsMemory(0, 2)));
        Assert.True(reader.TryReadReceivedFrame(out Frame second), "the frame received since the last read did not come out");
        Assert.Equal(frame.Length, second.StreamOffset);

        ValueTask<FrameReadResult> read = reader.ReadFrameAsync();
        time.Advance(TimeSpan.FromMilliseconds(299));
        Assert.False(read.IsCompleted, "the frame timed out before 300 ms had passed since its first bytes were taken");
        time.Advance(TimeSpan.FromMilliseconds(1));
        FrameTimeoutException ex = await Assert.ThrowsAsync<FrameTimeoutException>(() => read.AsTask().WaitAsync(s_limit));
        Assert.Equal((2L * frame.Length, 2L, TimeSpan.FromMilliseconds(300)), (ex.StreamOffset, ex.ReceivedBytes, ex.Elapsed));
    }

    [Fact]
    public async Task AHeaderTrickledAByteAtATimeDoesNotMoveTheFrameDeadline()
    {
        // A slowloris: each header byte arrives 40 ms after the last. No byte resets the frame's deadline, so it fails 250 ms
        // after the frame's first byte, with the header still incomplete, whatever the trickle's pace.
        var time = new FakeTimeProvider();
        var pipe = InlinePipe();
        var reader = new FrameReader(pipe.Reader, AsciiDecimalCodec.Default,
            new FrameReaderOptions { FrameTimeout = TimeSpan.FromMilliseconds(250), TimeProvider = time });
        byte[] whole = "5         whole"u8.ToArray();
        byte[] header = "1000000   "u8.ToArray();
        await pipe.Writer.WriteAsync(Concat(whole, header.AsMemory(0, 1)));
        Assert.Equal("whole"u8.ToArray(), (await reader.ReadFrameAsync()).Frame.Payload.ToArray());

        ValueTask<FrameReadResult> read = reader.ReadFrameAsync();
        for (int i = 1; i <= 6; i++)
        {
            time.Advance(TimeSpan.FromMilliseconds(40));
            await pipe.Writer.WriteAsync(header.AsMemory(i, 1));
            Assert.False(read.IsCompleted, $"the read ended after header byte {i + 1}, {i * 40} ms into the frame");
        }

        time.Advance(TimeSpan.FromMilliseconds(9)); // 249 ms since the frame's first byte, 9 ms since its last
        Assert.False(read.IsCompleted);
        time.Advance(TimeSpan.FromMilliseconds(1));
        FrameTimeoutException ex = await Assert.ThrowsAsync<FrameTimeoutException>(() => read.AsTask().WaitAsync(s_limit));

        Assert.Equal(FrameTimeoutReason.Frame, ex.Reason);
        Assert.Equal(whole.Length, ex.StreamOffset);
        Assert.Equal(7, ex.ReceivedBytes);
        Assert.Equal(TimeSpan.FromMilliseconds(250), ex.Elapsed);
    }

    [Fact]
    public async Task TheIdleTimeoutCountsFromTheStartOfTheWaitAndFiresOnlyWithoutAFrameStarted()
    {
        var time = new FakeTimeProvider();
        var pipe = InlinePipe();
        var reader = new FrameReader(pipe.Reader, AsciiDecimalCodec.Default,
            new FrameReaderOptions { IdleTimeout = TimeSpan.FromSeconds(5), TimeProvider = time });
        ValueTask<FrameReadResult> read = reader.ReadFrameAsync();
        time.Advance(TimeSpan.FromSeconds(4.9));
        Assert.False(read.IsCompleted);
        await pipe.Writer.WriteAsync("5         hello"u8.ToArray());
        Assert.True((await read.AsTask().WaitAsync(s_limit)).HasFrame);

        // A new wait: 5 s from now, not from the first wait.
        read = reader.ReadFrameAsync();
        time.Advance(TimeSpan.FromSeconds(4.9));
        Assert.False(read.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(0.1));
        FrameTimeoutException ex = await Assert.ThrowsAsync<FrameTimeoutException>(() => read.AsTask().WaitAsync(s_limit));
        Assert.Equal(FrameTimeoutReason.Idle, ex.Reason);
        Assert.True(ex.IsIdleTimeout);
        Assert.Equal(15, ex.StreamOffset);
        Assert.Equal(0, ex.ReceivedBytes);
        Assert.Contains("idle timeout", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ATrickleBelowTheMinimumDataRateFailsOnceTheGracePeriodIsOver()
    {
        var time = new FakeTimeProvider();
        var pipe = InlinePipe();
        var reader = new FrameReader(pipe.Reader, BinaryLengthCodec.UInt32BigEndian, new FrameReaderOptions
        {
            MinFrameDataRate = 100,
            MinFrameDataRateGracePeriod = TimeSpan.FromSeconds(2),
            TimeProvider = time,
        });
        byte[] frame = Frame(1000);
        ValueTask<FrameReadResult> read = reader.ReadFrameAsync();

        // 10 bytes/s: within the grace period nothing happens, however slow.
        for (int i = 0; i < 20; i++)
        {
            await pipe.Writer.WriteAsync(frame.AsMemory(i, 1));
            time.Advance(TimeSpan.FromMilliseconds(100));
        }

        FrameTimeoutException ex = await Assert.ThrowsAsync<FrameTimeoutException>(() => read.AsTask().WaitAsync(s_limit));
        Assert.Equal(FrameTimeoutReason.MinDataRate, ex.Reason);
        Assert.Equal(20, ex.ReceivedBytes);
        Assert.Equal(TimeSpan.FromSeconds(2), ex.Elapsed);
        Assert.Contains("minimum data rate of 100 bytes/s", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(16)]
    [InlineData(64 * 1024)]
    public async Task FramesArrivingAboveTheMinimumDataRateCompleteHoweverLongTheyTake(int payloadLength)
    {
        // 1,000 bytes/s minimum; the peer sends ~2,000 bytes/s in 200-byte pieces. A large frame is awaited whole
        // (ReadAtLeastAsync), so the reader sees its bytes only when the rate's timer wakes it: it must re-check, not fail.
        var time = new FakeTimeProvider();
        var pipe = InlinePipe();
        var reader = new FrameReader(pipe.Reader, BinaryLengthCodec.UInt32BigEndian, new FrameReaderOptions
        {
            MinFrameDataRate = 1000,
            MinFrameDataRateGracePeriod = TimeSpan.FromSeconds(1),
            TimeProvider = time,
        });
        byte[] frame = Frame(payloadLength);
        ValueTask<FrameReadResult> read = reader.ReadFrameAsync();
        ValueTask<FlushResult> flush = default;
        for (int offset = 0; offset < frame.Length; offset += 200)
        {
            Assert.False(read.IsCompleted);
            Assert.True(flush.IsCompleted);
            flush = pipe.Writer.WriteAsync(frame.AsMemory(offset, Math.Min(200, frame.Length - offset)));
            time.Advance(TimeSpan.FromMilliseconds(100));
        }

        // The last flush may wait for the reader to move past the whole frame (the pipe's backpressure): read first.
        FrameReadResult result = await read.AsTask().WaitAsync(s_limit);
        Assert.Equal(payloadLength, result.Frame.PayloadLength);
        Assert.Equal(TimeSpan.FromMilliseconds(100 * ((frame.Length + 199) / 200)), time.GetUtcNow() - time.Start);
        reader.Complete();
        await flush.AsTask().WaitAsync(s_limit);
    }

    [Property(MaxTest = 200)]
    public Property ChunkedFramesThatEachCompleteWithinTheFrameTimeoutNeverTimeOut() =>
        Prop.ForAll(Scenario().ToArbitrary(), s =>
        {
            var time = new FakeTimeProvider();
            var pipe = InlinePipe();
            TimeSpan timeout = TimeSpan.FromMilliseconds(300);
            var reader = new FrameReader(pipe.Reader, BinaryLengthCodec.UInt16BigEndian,
                new FrameReaderOptions { FrameTimeout = timeout, TimeProvider = time });
            byte[] wire = s.Payloads.SelectMany(p => Frame16(p)).ToArray();
            var frameStarts = new List<int>();
            int at = 0;
            foreach (int p in s.Payloads)
            {
                frameStarts.Add(at);
                at += 2 + p;
            }

            // The reading loop runs on this thread: with the pipe's inline schedulers each write, and each timer that
            // fires inside Advance, runs it to its next wait before returning.
            var received = new List<long>();
            Task reading = ReadAllAsync(reader, received);

            // Deliver the chunks; before each, let time pass, but never so much that a frame already started when the chunk
            // arrives (the chunk's first byte is not its first) would take the timeout or longer from its first byte to its last.
            long now = 0;
            var firstByteArrival = new long[frameStarts.Count];
            int position = 0;
            foreach ((int length, int delayMs) in Chunks(wire.Length, s.Cuts, s.Delays))
            {
                long delay = delayMs;
                int current = frameStarts.FindLastIndex(start => start <= position);
                if (frameStarts[current] < position)
                {
                    delay = Math.Min(delay, firstByteArrival[current] + (long)timeout.TotalMilliseconds - 1 - now);
                }

                time.Advance(TimeSpan.FromMilliseconds(delay));
                now += delay;
                for (int f = 0; f < frameStarts.Count; f++)
                {
                    if (frameStarts[f] >= position && frameStarts[f] < position + length)
                    {
                        firstByteArrival[f] = now;
                    }
                }

                Assert.True(pipe.Writer.WriteAsync(wire.AsMemory(position, length)).IsCompleted);
                position += length;
                Assert.False(reading.IsFaulted, reading.Exception?.ToString());
            }

            pipe.Writer.Complete();
            Assert.True(reading.Wait(s_limit));
            Assert.Equal(s.Payloads.Select(p => (long)p), received);
        });

    private static async Task ReadAllAsync(FrameReader reader, List<long> received)
    {
        while (true)
        {
            FrameReadResult r = await reader.ReadFrameAsync();
            if (!r.HasFrame)
            {
                return;
            }

            received.Add(r.Frame.PayloadLength);
        }
    }

    private static IEnumerable<(int Length, int DelayMs)> Chunks(int total, int[] cuts, int[] delays)
    {
        int[] points = cuts.Select(c => c % (total + 1)).Where(c => c > 0 && c < total).Distinct().Order().Append(total).ToArray();
        int previous = 0;
        for (int i = 0; i < points.Length; i++)
        {
            yield return (points[i] - previous, delays[i % delays.Length]);
            previous = points[i];
        }
    }

    private static Gen<TimeoutScenario> Scenario() =>
        from payloads in Gen.Choose(0, 300).ArrayOf().Where(a => a.Length is > 0 and <= 12)
        from cuts in Gen.Choose(1, 5000).ArrayOf()
        from delays in Gen.Choose(0, 500).ArrayOf().Where(a => a.Length > 0)
        select new TimeoutScenario(payloads, cuts, delays);

    private static Pipe InlinePipe()
        => new Pipe(new PipeOptions(readerScheduler: PipeScheduler.Inline, writerScheduler: PipeScheduler.Inline, useSynchronizationContext: false));

    private static byte[] Frame(int payloadLength)
    {
        byte[] frame = new byte[4 + payloadLength];
        BinaryPrimitives.WriteUInt32BigEndian(frame, (uint)payloadLength);
        for (int i = 4; i < frame.Length; i++)
        {
            frame[i] = (byte)i;
        }

        return frame;
    }

    private static byte[] Frame16(int payloadLength)
    {
        byte[] frame = new byte[2 + payloadLength];
        BinaryPrimitives.WriteUInt16BigEndian(frame, (ushort)payloadLength);
        return frame;
    }

    private static byte[] Concat(ReadOnlyMemory<byte> a, ReadOnlyMemory<byte> b) => [.. a.Span, .. b.Span];

    public sealed record TimeoutScenario(int[] Payloads, int[] Cuts, int[] Delays);
}
