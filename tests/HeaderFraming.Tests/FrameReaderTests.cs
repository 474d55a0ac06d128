using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.InteropServices;
using System.Text;
using HeaderFraming.Codecs;
using HeaderFraming.Testing;
using HeaderFraming.Tests.Infrastructure;
using static HeaderFraming.Tests.Infrastructure.FrameTestKit;

namespace HeaderFraming.Tests;

public class FrameReaderTests
{
    private static readonly byte[] s_seedStream = Ascii("22        Welcome to the server!30        The time is 1552068302.0181189");

    [Fact]
    public void BackToBackSeedMessagesAreSplitWholeAndAsOneByteSegments()
    {
        foreach (ReadOnlySequence<byte> sequence in new[] { new ReadOnlySequence<byte>(s_seedStream), SegmentedSequence.OneByteSegments(s_seedStream) })
        {
            foreach (int[] chunks in new[] { Array.Empty<int>(), Enumerable.Repeat(1, s_seedStream.Length).ToArray(), [16, 16, 16, 16, 16] })
            {
                List<byte[]> frames = DecodeAll(sequence, AsciiDecimalCodec.Default, chunks);
                Assert.Equal(["Welcome to the server!", "The time is 1552068302.0181189"], frames.Select(f => Encoding.UTF8.GetString(f)));
            }
        }
    }

    [Fact]
    public async Task ReadIncompleteFrameConsumesNothing()
    {
        // Every prefix of the stream is offered first; the frame only appears once all of it arrived, intact.
        for (int cut = 0; cut < 32; cut++)
        {
            var pipe = new Pipe();
            var reader = new FrameReader(pipe.Reader, AsciiDecimalCodec.Default);
            await pipe.Writer.WriteAsync(s_seedStream.AsMemory(0, cut));
            ValueTask<FrameReadResult> pending = reader.ReadFrameAsync();
            Assert.False(pending.IsCompleted);
            await pipe.Writer.WriteAsync(s_seedStream.AsMemory(cut));
            FrameReadResult result = await pending;
            Assert.Equal("Welcome to the server!", Encoding.UTF8.GetString(result.Frame.Payload.ToArray()));
            Assert.Equal("22        ", Encoding.ASCII.GetString(result.Frame.Header.ToArray()));
            Assert.Equal(0, result.Frame.StreamOffset);
        }
    }

    [Fact]
    public async Task BufferedFramesAreReturnedSynchronouslyWithoutAnotherPipeRead()
    {
        byte[] data = Encode(BinaryLengthCodec.UInt32BigEndian, Enumerable.Range(0, 100).Select(i => new byte[i % 7]));
        var pipeReader = new ChunkedPipeReader(new ReadOnlySequence<byte>(data), [data.Length]);
        var reader = new FrameReader(pipeReader, BinaryLengthCodec.UInt32BigEndian);
        for (int i = 0; i < 100; i++)
        {
            ValueTask<FrameReadResult> read = reader.ReadFrameAsync();
            Assert.True(read.IsCompletedSuccessfully);
            Assert.Equal(i % 7, (await read).Frame.Payload.Length);
        }

        Assert.Equal(1, pipeReader.ReadCount);
        Assert.True((await reader.ReadFrameAsync()).IsCompleted);
    }

    [Fact]
    public async Task ThePayloadIsASliceOfThePipesOwnMemory()
    {
        byte[] data = Encode(BinaryLengthCodec.UInt32BigEndian, [[1, 2, 3], [4, 5, 6, 7]]);
        var reader = new FrameReader(new ChunkedPipeReader(new ReadOnlySequence<byte>(data), []), BinaryLengthCodec.UInt32BigEndian);
        FrameReadResult second = default;
        for (int i = 0; i < 2; i++)
        {
            second = await reader.ReadFrameAsync();
        }

        Assert.True(MemoryMarshal.TryGetArray(second.Frame.Payload.First, out ArraySegment<byte> segment));
        Assert.Same(data, segment.Array);
        Assert.Equal(11, segment.Offset);
        Assert.Equal(7, second.Frame.StreamOffset);
        Assert.True(MemoryMarshal.TryGetArray(second.Frame.Header.First, out ArraySegment<byte> header));
        Assert.Same(data, header.Array);
    }

    public static TheoryData<string> LaterReads => ["ReadFrameAsync", "TryReadFrame(out Frame)", "TryReadFrame spans", "ReadExactlyAsync", "a wait for bytes", "Complete", "Detach"];

    [Theory]
    [MemberData(nameof(LaterReads))]
    public async Task AResultsFrameThrowsOnceTheReaderHasReadAgainAndAFrameTakenBeforeStaysWhatItWas(string later)
    {
        var pipe = new Pipe();
        // For the wait, only the first frame is there: the next read waits (and gives the first frame's memory back).
        byte[][] frames = later == "a wait for bytes" ? [[1, 2, 3]] : [[1, 2, 3], [4, 5], [6]];
        await pipe.Writer.WriteAsync(Encode(BinaryLengthCodec.UInt32BigEndian, frames));
        var reader = new FrameReader(pipe.Reader, BinaryLengthCodec.UInt32BigEndian);
        FrameReadResult result = await reader.ReadFrameAsync();
        Frame taken = result.Frame;
        Assert.Equal(new byte[] { 1, 2, 3 }, result.Frame.PayloadSpan.ToArray());

        switch (later)
        {
            case "ReadFrameAsync":
                Assert.Equal(new byte[] { 4, 5 }, (await reader.ReadFrameAsync()).Frame.PayloadSpan.ToArray());
                break;
            case "TryReadFrame(out Frame)":
                Assert.True(reader.TryReadFrame(out Frame _));
                break;
            case "TryReadFrame spans":
                Assert.True(reader.TryReadFrame(out ReadOnlySpan<byte> _, out ReadOnlySpan<byte> _));
                break;
            case "ReadExactlyAsync":
                Assert.Equal(4, (await reader.ReadExactlyAsync(4)).Length);
                break;
            case "a wait for bytes":
                ValueTask<FrameReadResult> pending = reader.ReadFrameAsync();
                Assert.False(pending.IsCompleted);
                reader.CancelPendingRead();
                Assert.True((await pending).IsCanceled);
                break;
            case "Complete":
                reader.Complete();
                break;
            case "Detach":
                reader.Detach();
                break;
        }

        var stale = Assert.Throws<InvalidOperationException>(() => result.Frame);
        Assert.Contains("FrameReadResult of frame 1 is no longer valid", stale.Message);
        Assert.Contains(later is "ReadFrameAsync" or "TryReadFrame(out Frame)" or "TryReadFrame spans" ? "returned frame 2" : "waited for bytes", stale.Message);
        Assert.True(result.HasFrame);
        if (later is not "Complete" and not "Detach" and not "a wait for bytes")
        {
            // The pipe's memory is still the reader's: the frame taken before is a value and still reads the same bytes.
            Assert.Equal(new byte[] { 1, 2, 3 }, taken.PayloadSpan.ToArray());
        }
    }

    [Fact]
    public async Task ResultsWithoutAFrameHaveAnEmptyFrameAndTheirFlags()
    {
        Assert.False(default(FrameReadResult).HasFrame);
        Assert.False(default(FrameReadResult).IsCompleted);
        Assert.False(default(FrameReadResult).IsCanceled);
        Assert.Equal(0, default(FrameReadResult).Frame.PayloadLength);

        var pipe = new Pipe();
        var reader = new FrameReader(pipe.Reader, BinaryLengthCodec.UInt32BigEndian);
        ValueTask<FrameReadResult> pending = reader.ReadFrameAsync();
        reader.CancelPendingRead();
        FrameReadResult canceled = await pending;
        Assert.True(canceled.IsCanceled);
        Assert.False(canceled.IsCompleted || canceled.HasFrame);
        pipe.Writer.Complete();
        FrameReadResult completed = await reader.ReadFrameAsync();
        Assert.True(completed.IsCompleted);
        Assert.False(completed.IsCanceled || completed.HasFrame);
        Assert.Equal(0, completed.Frame.Payload.Length + completed.Frame.HeaderLength);
        Assert.False(completed.Frame.IsContiguous);
    }

    [Fact]
    public async Task TryReadReceivedFrameTakesWhatThePipeReceivedSinceTheLastReadAndLeavesAPendingCancellationToTheNextRead()
    {
        // A connection's TryReadFrame (a graceful shutdown drains with it): the frames written to the pipe after the last
        // read come out without a wait, and a CancelPendingRead made before still ends the next read.
        var pipe = new Pipe();
        var reader = new FrameReader(pipe.Reader, BinaryLengthCodec.UInt32BigEndian);
        await pipe.Writer.WriteAsync(Encode(BinaryLengthCodec.UInt32BigEndian, [[1]]));
        Assert.Equal([1], (await reader.ReadFrameAsync()).Frame.Payload.ToArray());
        reader.CancelPendingRead();

        await pipe.Writer.WriteAsync(Encode(BinaryLengthCodec.UInt32BigEndian, [[2]]));
        Assert.False(reader.TryReadFrame(out Frame _), "the public TryReadFrame reads only what the last read buffered");
        Assert.True(reader.TryReadReceivedFrame(out Frame second), "the frame written since the last read did not come out");
        Assert.Equal([2], second.Payload.ToArray());
        await pipe.Writer.WriteAsync(Encode(BinaryLengthCodec.UInt32BigEndian, [[3, 3]]));
        Assert.Equal([3, 3], NextPayloadBySpans(reader));
        Assert.False(reader.TryReadReceivedFrame(out Frame _));

        FrameReadResult canceled = await reader.ReadFrameAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(canceled.IsCanceled, "the cancellation made before the pipe was read without a wait was lost");
        await pipe.Writer.WriteAsync(Encode(BinaryLengthCodec.UInt32BigEndian, [[4]]));
        Assert.Equal([4], (await reader.ReadFrameAsync()).Frame.Payload.ToArray());

        static byte[]? NextPayloadBySpans(FrameReader reader)
            => reader.TryReadReceivedFrame(out ReadOnlySpan<byte> _, out ReadOnlySpan<byte> payload) ? payload.ToArray() : null;
    }

    [Fact]
    public async Task AfterACancelledWaitTryReadReceivedFrameKeepsTheBytesThatWaitHadExamined()
    {
        // The wait examined both header bytes and was cancelled before more came: TryRead does not return examined bytes
        // again, so a TryReadReceivedFrame that gave them up would leave a peek of them waiting for a byte that never comes.
        var pipe = new Pipe();
        var reader = new FrameReader(pipe.Reader, BinaryLengthCodec.UInt32BigEndian);
        await pipe.Writer.WriteAsync(new byte[] { 0, 0 });
        ValueTask<FrameReadResult> waiting = reader.ReadFrameAsync();
        Assert.False(waiting.IsCompleted, "half a header made a frame");
        reader.CancelPendingRead();
        Assert.True((await waiting.AsTask().WaitAsync(TimeSpan.FromSeconds(30))).IsCanceled);

        Assert.False(reader.TryReadReceivedFrame(out Frame _));
        ValueTask<ReadOnlySequence<byte>> peek = reader.PeekAsync(2);
        Assert.True(peek.IsCompleted, "a peek of the two bytes held waited for more");
        Assert.Equal([0, 0], (await peek).ToArray());

        // And the next frame still reads whole, with no cancellation left over.
        await pipe.Writer.WriteAsync(new byte[] { 0, 1, 9 });
        Assert.Equal([9], (await reader.ReadFrameAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30))).Frame.Payload.ToArray());
    }

    [Fact]
    public async Task AnAbortWhileTryReadReceivedFrameUsesThePipeWaitsForItAndItEndsWithTheAbortsException()
    {
        // A connection's dispose (AbortAsync) on another thread while its TryReadFrame is inside the pipe: the dispose leaves
        // the pipe to the pull, as it does to a wait, and the pull completes the reader and throws the dispose's exception.
        var pipe = new Pipe();
        var gated = new GatedTryReadPipeReader(pipe.Reader);
        var reader = new FrameReader(gated, BinaryLengthCodec.UInt32BigEndian);
        await pipe.Writer.WriteAsync(Encode(BinaryLengthCodec.UInt32BigEndian, [[1]]));
        Assert.True((await reader.ReadFrameAsync()).HasFrame);
        await pipe.Writer.WriteAsync(Encode(BinaryLengthCodec.UInt32BigEndian, [[2]]));

        gated.Gate = true;
        Task<bool> pulling = Task.Run(() => reader.TryReadReceivedFrame(out Frame _));
        Assert.True(gated.Entered.Wait(TimeSpan.FromSeconds(30)), "the pull never reached TryRead");
        var disposed = new ObjectDisposedException("connection");
        Task aborting = reader.AbortAsync(disposed);
        Assert.False(aborting.IsCompleted, "the abort completed the reader while the pull was using the pipe");
        gated.Release.Set();

        Assert.Same(disposed, await Assert.ThrowsAsync<ObjectDisposedException>(() => pulling.WaitAsync(TimeSpan.FromSeconds(30))));
        await aborting.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(1, gated.Completions);
    }

    /// <summary>A pipe reader whose TryRead, once gated, signals and waits to be released before it reads.</summary>
    private sealed class GatedTryReadPipeReader(PipeReader inner) : DelegatingPipeReader(inner)
    {
        private int _completions;

        public bool Gate { get; set; }

        public ManualResetEventSlim Entered { get; } = new();

        public ManualResetEventSlim Release { get; } = new();

        public int Completions => Volatile.Read(ref _completions);

        public override bool TryRead(out ReadResult result)
        {
            if (Gate)
            {
                Entered.Set();
                Release.Wait(TimeSpan.FromSeconds(30));
            }

            return Inner.TryRead(out result);
        }

        public override void Complete(Exception? exception = null)
        {
            Interlocked.Increment(ref _completions);
            Inner.Complete(exception);
        }
    }

    [Fact]
    public async Task ARawReadAfterACancelledWaitCountsTheBytesThatWaitHadExamined()
    {
        // The cancelled wait had told the pipe that both header bytes were examined, and a Pipe counts only bytes after the
        // examined ones towards a read's minimum: asked for three bytes as they are, it would wait for three more.
        var pipe = new Pipe();
        var reader = new FrameReader(pipe.Reader, BinaryLengthCodec.UInt32BigEndian);
        await pipe.Writer.WriteAsync(new byte[] { 0, 0 });
        using var cancel = new CancellationTokenSource();
        ValueTask<FrameReadResult> waiting = reader.ReadFrameAsync(cancel.Token);
        Assert.False(waiting.IsCompleted, "half a header made a frame");
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await waiting);

        await pipe.Writer.WriteAsync(new byte[] { 7 });
        ReadOnlySequence<byte> three = await reader.ReadExactlyAsync(3).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal([0, 0, 7], three.ToArray());
    }

    [Fact]
    public async Task ThePayloadOfARealPipeIsNotCopied()
    {
        var pipe = new Pipe();
        Memory<byte> memory = pipe.Writer.GetMemory(64);
        Encode(BinaryLengthCodec.UInt32BigEndian, [[9, 8, 7]]).CopyTo(memory);
        pipe.Writer.Advance(7);
        await pipe.Writer.FlushAsync();
        var reader = new FrameReader(pipe.Reader, BinaryLengthCodec.UInt32BigEndian);
        FrameReadResult result = await reader.ReadFrameAsync();
        Assert.True(MemoryMarshal.TryGetArray(result.Frame.Payload.First, out ArraySegment<byte> payload));
        Assert.True(MemoryMarshal.TryGetArray((ReadOnlyMemory<byte>)memory, out ArraySegment<byte> written));
        Assert.Same(written.Array, payload.Array);
        Assert.Equal(written.Offset + 4, payload.Offset);
    }

    [Fact]
    public async Task HeaderClaimingMoreThanMaxThrowsBeforeBuffering()
    {
        byte[] data = [.. PythonHeader(1_000_001), .. new byte[5000]];
        var pipeReader = new ChunkedPipeReader(new ReadOnlySequence<byte>(data), [12, 100, 100, 100]);
        var options = new FrameReaderOptions { MaxFrameLength = 1_000_000 };
        var ex = await Assert.ThrowsAsync<FrameTooLargeException>(() => DecodeAllAsync(pipeReader, AsciiDecimalCodec.Default, options));
        Assert.Equal(1_000_001, ex.DeclaredLength);
        Assert.Equal(1_000_000, ex.MaxFrameLength);
        Assert.Equal(1, pipeReader.ReadCount);
        Assert.Contains("1,000,001", ex.Message, StringComparison.Ordinal);
        Assert.Contains("\"1000001   \"", ex.Message, StringComparison.Ordinal);
        Assert.Contains("stream offset 0", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task FramesBeforeAMalformedHeaderAreDeliveredAndTheErrorSaysWhere()
    {
        byte[] data = [.. Encode(AsciiDecimalCodec.Default, [Ascii("one"), Ascii("two")]), .. Ascii("GET / HTTP/1.1\r\nHost: x\r\n\r\n")];
        var reader = new FrameReader(new ChunkedPipeReader(new ReadOnlySequence<byte>(data), [7, 7, 7, 7]), AsciiDecimalCodec.Default);
        Assert.Equal("one", Encoding.ASCII.GetString((await reader.ReadFrameAsync()).Frame.Payload.ToArray()));
        Assert.Equal("two", Encoding.ASCII.GetString((await reader.ReadFrameAsync()).Frame.Payload.ToArray()));
        var ex = await Assert.ThrowsAsync<FrameFormatException>(async () => await reader.ReadFrameAsync());
        Assert.Equal(26, ex.StreamOffset);
        Assert.Contains("stream offset 26", ex.Message, StringComparison.Ordinal);
        Assert.Contains("HTTP", ex.Message, StringComparison.Ordinal);
        Assert.Contains("47 45 54 20", ex.Message, StringComparison.Ordinal);

        // The reader stays faulted: the next frame's position is unknown.
        var again = await Assert.ThrowsAsync<FrameFormatException>(async () => await reader.ReadFrameAsync());
        Assert.Same(ex, again);
    }

    [Fact]
    public async Task EndOfStreamBetweenFramesCompletesCleanly()
    {
        byte[] data = Encode(VarintCodec.Instance, [[1], [2, 2]]);
        var reader = new FrameReader(new ChunkedPipeReader(new ReadOnlySequence<byte>(data), [1, 1, 1, 1, 1]), VarintCodec.Instance);
        Assert.True((await reader.ReadFrameAsync()).HasFrame);
        Assert.True((await reader.ReadFrameAsync()).HasFrame);
        Assert.True((await reader.ReadFrameAsync()).IsCompleted);
    }

    [Theory]
    [InlineData(5, -1)]
    [InlineData(12, 40)]
    public async Task EndOfStreamInsideAFrameIsATruncationErrorAfterEarlierFrames(int keep, long expected)
    {
        byte[] first = Encode(AsciiDecimalCodec.Default, [Ascii("first")]);
        byte[] second = Encode(AsciiDecimalCodec.Default, [new byte[30]]);
        byte[] data = [.. first, .. second[..keep]];
        var reader = new FrameReader(new ChunkedPipeReader(new ReadOnlySequence<byte>(data), [3]), AsciiDecimalCodec.Default);
        Assert.Equal("first", Encoding.ASCII.GetString((await reader.ReadFrameAsync()).Frame.Payload.ToArray()));
        var ex = await Assert.ThrowsAsync<FrameTruncatedException>(async () => await reader.ReadFrameAsync());
        Assert.Equal((keep, expected, 15L), (ex.ReceivedBytes, ex.ExpectedBytes, ex.StreamOffset));
        Assert.Contains("before the stream ended", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CancellingAPendingReadConsumesNothing()
    {
        var pipe = new Pipe();
        var reader = new FrameReader(pipe.Reader, AsciiDecimalCodec.Default);
        await pipe.Writer.WriteAsync(s_seedStream.AsMemory(0, 15));
        using (var cts = new CancellationTokenSource())
        {
            ValueTask<FrameReadResult> pending = reader.ReadFrameAsync(cts.Token);
            cts.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await pending);
        }

        ValueTask<FrameReadResult> next = reader.ReadFrameAsync();
        reader.CancelPendingRead();
        Assert.True((await next).IsCanceled);

        await pipe.Writer.WriteAsync(s_seedStream.AsMemory(15));
        Assert.Equal("Welcome to the server!", Encoding.ASCII.GetString((await reader.ReadFrameAsync()).Frame.Payload.ToArray()));
        Assert.Equal("The time is 1552068302.0181189", Encoding.ASCII.GetString((await reader.ReadFrameAsync()).Frame.Payload.ToArray()));
    }

    [Fact]
    public async Task ReadingOneByteAtATimeReadsOncePerByteAndNeverSpins()
    {
        byte[] data = Encode(BinaryLengthCodec.UInt16BigEndian, [new byte[50], new byte[3]]);
        var pipeReader = new ChunkedPipeReader(new ReadOnlySequence<byte>(data), Enumerable.Repeat(1, data.Length));
        List<byte[]> frames = await DecodeAllAsync(pipeReader, BinaryLengthCodec.UInt16BigEndian);
        Assert.Equal(2, frames.Count);

        // One read per byte, plus at most one per frame: waiting for a started frame's rest (ReadAtLeastAsync) first
        // re-reads what is buffered without marking it examined.
        Assert.InRange(pipeReader.ReadCount, data.Length, data.Length + frames.Count);
    }

    [Fact]
    public async Task ContiguousFramesComeOutAsSpansOfThePipesMemoryAndSplitOnesThroughReadFrameAsync()
    {
        byte[] data = Encode(BinaryLengthCodec.UInt32BigEndian, [[1, 2, 3], [4, 5], [6, 7, 8, 9]]);
        // The second frame straddles the segment boundary at byte 9.
        var reader = new FrameReader(new ChunkedPipeReader(SegmentedSequence.Split(data, [9]), []), BinaryLengthCodec.UInt32BigEndian);
        Assert.False(reader.TryReadFrame(out ReadOnlySpan<byte> _, out ReadOnlySpan<byte> _));
        FrameReadResult first = await reader.ReadFrameAsync();
        Assert.Equal(new byte[] { 1, 2, 3 }, first.Frame.Payload.ToArray());

        Assert.False(reader.TryReadFrame(out ReadOnlySpan<byte> _, out ReadOnlySpan<byte> _));
        FrameReadResult second = await reader.ReadFrameAsync();
        Assert.False(second.Frame.Payload.IsSingleSegment && second.Frame.Header.IsSingleSegment);
        Assert.Equal(new byte[] { 4, 5 }, second.Frame.Payload.ToArray());

        Assert.True(reader.TryReadFrame(out ReadOnlySpan<byte> header, out ReadOnlySpan<byte> payload));
        Assert.Equal(new byte[] { 0, 0, 0, 4 }, header.ToArray());
        Assert.Equal(new byte[] { 6, 7, 8, 9 }, payload.ToArray());
        Assert.False(reader.TryReadFrame(out ReadOnlySpan<byte> _, out ReadOnlySpan<byte> _));
        Assert.True((await reader.ReadFrameAsync()).IsCompleted);
    }

    [Fact]
    public void SpanFramesPointIntoThePipesOwnMemory()
    {
        byte[] data = Encode(AsciiDecimalCodec.Default, [Ascii("zero"), Ascii("copy")]);
        var pipeReader = new ChunkedPipeReader(SegmentedSequence.Create(data), []);
        var reader = new FrameReader(pipeReader, AsciiDecimalCodec.Default);
        Assert.True(reader.ReadFrameAsync().IsCompletedSuccessfully);
        Assert.True(reader.TryReadFrame(out ReadOnlySpan<byte> header, out ReadOnlySpan<byte> payload));
        Assert.True(System.Runtime.CompilerServices.Unsafe.AreSame(
            ref System.Runtime.InteropServices.MemoryMarshal.GetReference(payload), ref data[24]));
        Assert.True(System.Runtime.CompilerServices.Unsafe.AreSame(
            ref System.Runtime.InteropServices.MemoryMarshal.GetReference(header), ref data[14]));
    }

    [Theory]
    [InlineData(1000)]
    [InlineData(200_000)]
    public async Task AFrameWhoseRestArrivesExactlyIsReturnedWithoutWaitingForMoreBytes(int payloadLength)
    {
        // Regression: the reader waits for a started frame with ReadAtLeastAsync, and a Pipe counts only bytes not yet
        // examined towards that minimum; marking the partial frame examined made it wait for bytes that never come.
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 64 * 1024, resumeWriterThreshold: 32 * 1024, minimumSegmentSize: 4096));
        var reader = new FrameReader(pipe.Reader, BinaryLengthCodec.UInt32BigEndian);
        byte[] warmUp = Encode(BinaryLengthCodec.UInt32BigEndian, [new byte[10]]);
        await pipe.Writer.WriteAsync(warmUp);
        Assert.True((await reader.ReadFrameAsync()).HasFrame);

        byte[] frame = Encode(BinaryLengthCodec.UInt32BigEndian, [Enumerable.Range(0, payloadLength).Select(i => (byte)i).ToArray()]);
        for (int i = 0; i < 3; i++)
        {
            int cut = frame.Length / 3;
            Task writing = Task.Run(async () =>
            {
                await pipe.Writer.WriteAsync(frame.AsMemory(0, cut));
                await Task.Delay(20);
                await pipe.Writer.WriteAsync(frame.AsMemory(cut));
            });
            FrameReadResult result = await reader.ReadFrameAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Equal(frame[4..], result.Frame.Payload.ToArray());
            await writing;
        }
    }

    [Fact]
    public async Task ZeroLengthPayloadsAreFrames()
    {
        byte[] data = Encode(AsciiDecimalCodec.Default, [[], [], Ascii("x")]);
        Assert.Equal("0         0         1         x", Encoding.ASCII.GetString(data));
        List<byte[]> frames = await DecodeAllAsync(new ChunkedPipeReader(new ReadOnlySequence<byte>(data), []), AsciiDecimalCodec.Default);
        Assert.Equal([0, 0, 1], frames.Select(f => f.Length));
    }

    [Fact]
    public async Task ReadAllAsyncEnumeratesEveryFrame()
    {
        byte[] data = Encode(AsciiDecimalCodec.Default, [Ascii("a"), Ascii("bb"), Ascii("ccc")]);
        var reader = new FrameReader(new ChunkedPipeReader(new ReadOnlySequence<byte>(data), [4, 4, 4]), AsciiDecimalCodec.Default);
        var seen = new List<string>();
        await foreach (Frame frame in reader.ReadAllAsync())
        {
            seen.Add(Encoding.ASCII.GetString(frame.Payload.ToArray()));
        }

        Assert.Equal(["a", "bb", "ccc"], seen);
    }

}
