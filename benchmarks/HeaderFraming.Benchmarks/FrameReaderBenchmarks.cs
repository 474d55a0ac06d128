using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using BenchmarkDotNet.Attributes;
using DotNetty.Buffers;
using DotNetty.Codecs;
using DotNetty.Common;
using DotNetty.Transport.Channels.Embedded;
using HeaderFraming.Benchmarks.Infrastructure;
using HeaderFraming.Codecs;

namespace HeaderFraming.Benchmarks;

/// <summary>
/// Decoding a whole ~16 MiB buffer of consecutive frames (4-byte big-endian length prefix unless the name says ASCII),
/// touching every payload and checking the frame count and checksum: HeaderFraming's FrameReader against the baselines.
/// Divide by the frame count (the ns/frame and B/frame columns) for per-frame costs.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(PerFrameConfig))]
public class FrameReaderBenchmarks : IWholeBufferBenchmark
{
    private const int ChunkSize = 64 * 1024;

    private Workload _uint32 = null!;
    private Workload _ascii = null!;
    private byte[] _copyDestination = null!;
    private EmbeddedChannel _dotNetty = null!;

    [ParamsSource(typeof(PayloadSizes), nameof(PayloadSizes.Values))]
    public int PayloadSize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _uint32 = Workload.Create(BinaryLengthCodec.UInt32BigEndian, PayloadSize);
        _ascii = Workload.Create(AsciiDecimalCodec.Default, PayloadSize);
        _copyDestination = new byte[_uint32.Buffer.Length];
        ResourceLeakDetector.Level = ResourceLeakDetector.DetectionLevel.Disabled;
        _dotNetty = new EmbeddedChannel(new LengthFieldBasedFrameDecoder(int.MaxValue, 0, 4, 0, 4));
    }

    [GlobalCleanup]
    public void Cleanup() => _dotNetty.FinishAndReleaseAll();

    /// <summary>Lets the tests corrupt the 4-byte workload to prove the checks fire.</summary>
    public byte[] UInt32Buffer => _uint32.Buffer;

    /// <summary>The floor for any decoder: one contiguous span, BinaryPrimitives, Slice.</summary>
    [Benchmark(Baseline = true)]
    public long IdealSpanLoop()
    {
        ReadOnlySpan<byte> buffer = _uint32.Buffer;
        long frames = 0;
        long sum = 0;
        while (!buffer.IsEmpty)
        {
            int length = BinaryPrimitives.ReadInt32BigEndian(buffer);
            sum += Check.Touch(buffer.Slice(4, length));
            buffer = buffer[(4 + length)..];
            frames++;
        }

        Check.Frames(nameof(IdealSpanLoop), frames, sum, _uint32);
        return sum;
    }

    /// <summary>The bandwidth limit for anything that copies: Span.CopyTo of the whole buffer (no framing; checks the copy).</summary>
    [Benchmark]
    public long MemoryCopy()
    {
        _uint32.Buffer.AsSpan().CopyTo(_copyDestination);
        Check.Encoded(nameof(MemoryCopy), _copyDestination, _uint32.Buffer);
        return _copyDestination[^1];
    }

    /// <summary>What most hand-written code does: ReadExactly the header, new byte[len], ReadExactly the payload.</summary>
    [Benchmark]
    public long NaiveStream()
    {
        using var stream = new MemoryStream(_uint32.Buffer, writable: false);
        Span<byte> header = stackalloc byte[4];
        long frames = 0;
        long sum = 0;
        while (stream.ReadAtLeast(header, 4, throwOnEndOfStream: false) == 4)
        {
            int length = BinaryPrimitives.ReadInt32BigEndian(header);
            var payload = new byte[length];
            stream.ReadExactly(payload);
            sum += Check.Touch(payload);
            frames++;
        }

        Check.Frames(nameof(NaiveStream), frames, sum, _uint32);
        return sum;
    }

    /// <summary>A straightforward Pipelines loop: ReadAsync, SequenceReader.TryReadBigEndian, Slice, AdvanceTo after each frame.</summary>
    [Benchmark]
    public async Task<long> StraightforwardPipelines()
    {
        PipeReader reader = PipeReader.Create(new MemoryStream(_uint32.Buffer, writable: false), new StreamPipeReaderOptions(bufferSize: ChunkSize));
        long frames = 0;
        long sum = 0;
        while (true)
        {
            ReadResult result = await reader.ReadAsync();
            ReadOnlySequence<byte> buffer = result.Buffer;
            if (TryReadFrame(buffer, out ReadOnlySequence<byte> payload))
            {
                sum += Check.Touch(payload);
                frames++;
                reader.AdvanceTo(payload.End);
                continue;
            }

            if (result.IsCompleted)
            {
                break;
            }

            reader.AdvanceTo(buffer.Start, buffer.End);
        }

        await reader.CompleteAsync();
        Check.Frames(nameof(StraightforwardPipelines), frames, sum, _uint32);
        return sum;

        static bool TryReadFrame(ReadOnlySequence<byte> buffer, out ReadOnlySequence<byte> payload)
        {
            var sequenceReader = new SequenceReader<byte>(buffer);
            if (sequenceReader.TryReadBigEndian(out int length) && sequenceReader.Remaining >= length)
            {
                payload = buffer.Slice(sequenceReader.Position, length);
                return true;
            }

            payload = default;
            return false;
        }
    }

    /// <summary>DotNetty 0.7.6's LengthFieldBasedFrameDecoder (4-byte field, strip 4) in an EmbeddedChannel, fed 64 KiB reads.</summary>
    [Benchmark]
    public long DotNettyLengthFieldDecoder()
    {
        byte[] buffer = _uint32.Buffer;
        long frames = 0;
        long sum = 0;
        for (int offset = 0; offset < buffer.Length; offset += ChunkSize)
        {
            _dotNetty.WriteInbound(Unpooled.WrappedBuffer(buffer, offset, Math.Min(ChunkSize, buffer.Length - offset)));
            IByteBuffer? frame;
            while ((frame = _dotNetty.ReadInbound<IByteBuffer>()) != null)
            {
                int length = frame.ReadableBytes;
                sum += Workload.FrameSum(length, frame.GetByte(frame.ReaderIndex), frame.GetByte(frame.ReaderIndex + length - 1));
                frames++;
                frame.Release();
            }
        }

        Check.Frames(nameof(DotNettyLengthFieldDecoder), frames, sum, _uint32);
        return sum;
    }

    /// <summary>HeaderFraming: FrameReader over PipeReader.Create(stream) with 64 KiB reads, draining each batch of buffered
    /// frames with TryReadFrame and awaiting ReadFrameAsync only when none is left (the README's batching pattern).</summary>
    [Benchmark]
    public Task<long> FrameReader_StreamPipe() => ReadAllAsync(StreamReader(_uint32), _uint32, batch: true, nameof(FrameReader_StreamPipe));

    /// <summary>HeaderFraming's fastest loop: contiguous frames drained as spans (TryReadFrame(out header, out payload)),
    /// frames split across buffers and the waits through ReadFrameAsync (the README's batching pattern).</summary>
    [Benchmark]
    public Task<long> FrameReader_StreamPipe_Spans() => ReadAllAsync(StreamReader(_uint32), _uint32, batch: true, nameof(FrameReader_StreamPipe_Spans), spans: true);

    /// <summary>The span loop while a MeterListener listens to every instrument of the HeaderFraming meter: what metrics cost
    /// when observed. <see cref="FrameReader_StreamPipe_Spans"/> is the same loop with nobody listening, where the metrics
    /// cost one branch per frame.</summary>
    [Benchmark]
    public async Task<long> FrameReader_StreamPipe_Spans_MetricsListened()
    {
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == FramingMeter.Name)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        long measurements = 0;
        listener.SetMeasurementEventCallback<long>((_, _, _, _) => measurements++);
        listener.Start();
        long sum = await ReadAllAsync(StreamReader(_uint32), _uint32, batch: true, nameof(FrameReader_StreamPipe_Spans_MetricsListened), spans: true);
        if (measurements < _uint32.FrameCount)
        {
            throw new InvalidOperationException($"The listener saw {measurements} measurements for {_uint32.FrameCount} frames.");
        }

        return sum;
    }

    /// <summary>The span loop with the seed's 10-byte ASCII header.</summary>
    [Benchmark]
    public Task<long> FrameReader_StreamPipe_Spans_Ascii10() => ReadAllAsync(StreamReader(_ascii), _ascii, batch: true, nameof(FrameReader_StreamPipe_Spans_Ascii10), spans: true);

    /// <summary>The same, awaiting ReadFrameAsync for every frame (the simplest loop; completes synchronously when buffered).</summary>
    [Benchmark]
    public Task<long> FrameReader_StreamPipe_AwaitEach() => ReadAllAsync(StreamReader(_uint32), _uint32, batch: false, nameof(FrameReader_StreamPipe_AwaitEach));

    /// <summary>`await foreach (Frame frame in reader.ReadAllAsync())`: the async-sequence loop.</summary>
    [Benchmark]
    public async Task<long> FrameReader_StreamPipe_ReadAll()
    {
        var reader = new FrameReader(StreamReader(_uint32), _uint32.Codec);
        long frames = 0;
        long sum = 0;
        await foreach (Frame frame in reader.ReadAllAsync())
        {
            sum += Check.Touch(frame);
            frames++;
        }

        reader.Complete();
        Check.Frames(nameof(FrameReader_StreamPipe_ReadAll), frames, sum, _uint32);
        return sum;
    }

    /// <summary>The batching pattern with the seed's 10-byte ASCII header.</summary>
    [Benchmark]
    public Task<long> FrameReader_StreamPipe_Ascii10() => ReadAllAsync(StreamReader(_ascii), _ascii, batch: true, nameof(FrameReader_StreamPipe_Ascii10));

    /// <summary>HeaderFraming: FrameReader over a Pipe that another task fills with 64 KiB writes.</summary>
    [Benchmark]
    public async Task<long> FrameReader_Pipe()
    {
        var pipe = new Pipe(new PipeOptions(
            pauseWriterThreshold: 1 << 20, resumeWriterThreshold: 1 << 19, minimumSegmentSize: ChunkSize, useSynchronizationContext: false));
        Task writing = FillAsync(pipe.Writer, _uint32.Buffer);
        long sum = await ReadAllAsync(pipe.Reader, _uint32, batch: true, nameof(FrameReader_Pipe));
        await writing;
        return sum;

        static async Task FillAsync(PipeWriter writer, byte[] buffer)
        {
            await Task.Yield();
            for (int offset = 0; offset < buffer.Length; offset += ChunkSize)
            {
                FlushResult flushed = await writer.WriteAsync(buffer.AsMemory(offset, Math.Min(ChunkSize, buffer.Length - offset)));
                if (flushed.IsCompleted)
                {
                    break;
                }
            }

            await writer.CompleteAsync();
        }
    }

    private static PipeReader StreamReader(Workload workload)
        => PipeReader.Create(new MemoryStream(workload.Buffer, writable: false), new StreamPipeReaderOptions(bufferSize: ChunkSize));

    private static async Task<long> ReadAllAsync(PipeReader pipeReader, Workload workload, bool batch, string name, bool spans = false)
    {
        var reader = new FrameReader(pipeReader, workload.Codec);
        long frames = 0;
        long sum = 0;
        while (true)
        {
            if (batch)
            {
                (long batchFrames, long batchSum) = spans ? DrainBufferedSpans(reader) : DrainBuffered(reader);
                frames += batchFrames;
                sum += batchSum;
            }

            FrameReadResult result = await reader.ReadFrameAsync();
            if (!result.HasFrame)
            {
                break;
            }

            sum += Check.Touch(result.Frame);
            frames++;
        }

        reader.Complete();
        Check.Frames(name, frames, sum, workload);
        return sum;
    }

    /// <summary>Every contiguous frame already buffered, as spans.</summary>
    private static (long Frames, long Sum) DrainBufferedSpans(FrameReader reader)
    {
        long frames = 0;
        long sum = 0;
        while (reader.TryReadFrame(out ReadOnlySpan<byte> _, out ReadOnlySpan<byte> payload))
        {
            sum += Check.Touch(payload);
            frames++;
        }

        return (frames, sum);
    }

    /// <summary>Every frame already buffered, synchronously (no async state machine per frame).</summary>
    private static (long Frames, long Sum) DrainBuffered(FrameReader reader)
    {
        long frames = 0;
        long sum = 0;
        while (reader.TryReadFrame(out Frame frame))
        {
            sum += Check.Touch(frame);
            frames++;
        }

        return (frames, sum);
    }
}
