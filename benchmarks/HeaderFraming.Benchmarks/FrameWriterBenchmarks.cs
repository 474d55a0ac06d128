using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using BenchmarkDotNet.Attributes;
using HeaderFraming.Benchmarks.Infrastructure;
using HeaderFraming.Codecs;

namespace HeaderFraming.Benchmarks;

/// <summary>
/// Encoding the frames of a ~16 MiB workload (4-byte big-endian prefix unless the name says ASCII), flushing once per
/// ~64 KiB of frames, and checking the output against the reference encoding. The baseline copies header + payload into
/// one contiguous array; the <c>_Array</c> variants run FrameWriter over a PipeWriter backed by the same kind of array
/// (FrameWriter's own cost); the <c>_Pipe</c> variants write into a real Pipe drained into an array after every flush
/// (one more copy, as a socket send would make).
/// </summary>
[MemoryDiagnoser]
[Config(typeof(PerFrameConfig))]
public class FrameWriterBenchmarks : IWholeBufferBenchmark
{
    private const int Slack = 1 << 20;

    private Workload _uint32 = null!;
    private Workload _ascii = null!;
    private byte[] _contiguous = null!;
    private ArrayPipeWriter _arrayWriter = null!;
    private FrameWriter _arrayFrameWriter = null!;
    private FrameWriter _asciiArrayFrameWriter = null!;
    private byte[] _drained = null!;
    private int _framesPerFlush;

    [Params(16, 1024, 65536)]
    public int PayloadSize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _uint32 = Workload.Create(BinaryLengthCodec.UInt32BigEndian, PayloadSize);
        _ascii = Workload.Create(AsciiDecimalCodec.Default, PayloadSize);
        _contiguous = new byte[_uint32.Buffer.Length];
        _arrayWriter = new ArrayPipeWriter(_ascii.Buffer.Length + Slack);
        _arrayFrameWriter = new FrameWriter(_arrayWriter, BinaryLengthCodec.UInt32BigEndian);
        _asciiArrayFrameWriter = new FrameWriter(_arrayWriter, AsciiDecimalCodec.Default);
        _drained = new byte[_uint32.Buffer.Length];
        _framesPerFlush = Math.Max(1, (64 * 1024) / (PayloadSize + 4));
    }

    /// <summary>Lets the tests corrupt the reference encoding to prove the checks fire.</summary>
    public byte[] ExpectedUInt32 => _uint32.Buffer;

    /// <summary>The copy: BinaryPrimitives header + payload CopyTo, into one contiguous array.</summary>
    [Benchmark(Baseline = true)]
    public int ContiguousCopy()
    {
        Span<byte> destination = _contiguous;
        int size = PayloadSize;
        int position = 0;
        for (int i = 0; i < _uint32.FrameCount; i++)
        {
            BinaryPrimitives.WriteInt32BigEndian(destination[position..], size);
            Payload(_uint32, i).CopyTo(destination[(position + 4)..]);
            position += 4 + size;
        }

        Check.Encoded(nameof(ContiguousCopy), destination[..position], _uint32.Buffer);
        return position;
    }

    /// <summary>FrameWriter.Write(payload) into an array-backed PipeWriter, FlushAsync every ~64 KiB.</summary>
    [Benchmark]
    public int FrameWriter_Write_Array() => WriteArray(_arrayFrameWriter, _uint32, nameof(FrameWriter_Write_Array));

    /// <summary>The same with the seed's 10-byte ASCII header (the digits are formatted per frame).</summary>
    [Benchmark]
    public int FrameWriter_Write_Array_Ascii10() => WriteArray(_asciiArrayFrameWriter, _ascii, nameof(FrameWriter_Write_Array_Ascii10));

    /// <summary>BeginFrame / write into the IBufferWriter / EndFrame (header back-patched) into an array-backed PipeWriter.</summary>
    [Benchmark]
    public int FrameWriter_BeginEndFrame_Array()
    {
        _arrayWriter.Reset();
        FrameWriter writer = _arrayFrameWriter;
        Workload workload = _uint32;
        for (int i = 0; i < workload.FrameCount; i++)
        {
            WriteBackPatched(writer, Payload(workload, i));
            if ((i + 1) % _framesPerFlush == 0)
            {
                writer.FlushAsync().GetAwaiter().GetResult();
            }
        }

        writer.FlushAsync().GetAwaiter().GetResult();
        Check.Encoded(nameof(FrameWriter_BeginEndFrame_Array), _arrayWriter.WrittenSpan, workload.Buffer);
        return _arrayWriter.WrittenSpan.Length;
    }

    /// <summary>FrameWriter.Write into a real Pipe, drained (copied out) after every flush.</summary>
    [Benchmark]
    public int FrameWriter_Write_Pipe() => WritePipe(backPatched: false, nameof(FrameWriter_Write_Pipe));

    /// <summary>BeginFrame/EndFrame into a real Pipe, drained after every flush.</summary>
    [Benchmark]
    public int FrameWriter_BeginEndFrame_Pipe() => WritePipe(backPatched: true, nameof(FrameWriter_BeginEndFrame_Pipe));

    private static ReadOnlySpan<byte> Payload(Workload workload, int frame)
    {
        int frameLength = workload.Buffer.Length / workload.FrameCount;
        return workload.Buffer.AsSpan((frame * frameLength) + frameLength - workload.PayloadSize, workload.PayloadSize);
    }

    private static void WriteBackPatched(FrameWriter writer, ReadOnlySpan<byte> payload)
    {
        IBufferWriter<byte> body = writer.BeginFrame();
        payload.CopyTo(body.GetSpan(payload.Length));
        body.Advance(payload.Length);
        writer.EndFrame();
    }

    private int WriteArray(FrameWriter writer, Workload workload, string name)
    {
        _arrayWriter.Reset();
        for (int i = 0; i < workload.FrameCount; i++)
        {
            writer.Write(Payload(workload, i));
            if ((i + 1) % _framesPerFlush == 0)
            {
                writer.FlushAsync().GetAwaiter().GetResult();
            }
        }

        writer.FlushAsync().GetAwaiter().GetResult();
        Check.Encoded(name, _arrayWriter.WrittenSpan, workload.Buffer);
        return _arrayWriter.WrittenSpan.Length;
    }

    private int WritePipe(bool backPatched, string name)
    {
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 0, resumeWriterThreshold: 0, useSynchronizationContext: false));
        var writer = new FrameWriter(pipe.Writer, BinaryLengthCodec.UInt32BigEndian);
        Workload workload = _uint32;
        int drained = 0;
        for (int i = 0; i < workload.FrameCount; i++)
        {
            if (backPatched)
            {
                WriteBackPatched(writer, Payload(workload, i));
            }
            else
            {
                writer.Write(Payload(workload, i));
            }

            if ((i + 1) % _framesPerFlush == 0)
            {
                writer.FlushAsync().GetAwaiter().GetResult();
                drained = Drain(pipe.Reader, drained);
            }
        }

        writer.FlushAsync().GetAwaiter().GetResult();
        drained = Drain(pipe.Reader, drained);
        writer.Complete();
        pipe.Reader.Complete();
        Check.Encoded(name, _drained.AsSpan(0, drained), workload.Buffer);
        return drained;
    }

    private int Drain(PipeReader reader, int drained)
    {
        if (!reader.TryRead(out ReadResult result))
        {
            return drained;
        }

        ReadOnlySequence<byte> buffer = result.Buffer;
        long length = buffer.Length; // before AdvanceTo, which recycles the segments
        if (length > _drained.Length - drained)
        {
            throw new InvalidOperationException($"The writer produced more than the {_drained.Length} bytes expected.");
        }

        buffer.CopyTo(_drained.AsSpan(drained));
        reader.AdvanceTo(buffer.End);
        return drained + (int)length;
    }
}
