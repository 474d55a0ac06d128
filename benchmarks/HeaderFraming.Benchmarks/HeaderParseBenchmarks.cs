using System.Buffers;
using System.Buffers.Binary;
using BenchmarkDotNet.Attributes;
using HeaderFraming.Benchmarks.Infrastructure;
using HeaderFraming.Codecs;
using HeaderFraming.Testing;

namespace HeaderFraming.Benchmarks;

/// <summary>
/// The header parse hot path: each codec's <see cref="IFrameCodec.DecodeHeader"/> called through the interface, as
/// FrameReader calls it, walking a ~16 MiB buffer of consecutive frames (wrapping around) for
/// <see cref="HeadersPerInvoke"/> headers and touching every payload. Reported per header (OperationsPerInvoke).
/// The split variants decode headers cut in two segments through
/// <see cref="FrameCodecExtensions.DecodeHeader(IFrameCodec, in ReadOnlySequence{byte}, out int, out long)"/>.
/// </summary>
[MemoryDiagnoser]
public class HeaderParseBenchmarks
{
    public const int HeadersPerInvoke = 1 << 20;

    // Distinct split sequences; headers cycle over them.
    private const int MaxSplitFrames = 4096;

    private Layout _ascii = null!;
    private Layout _uint32 = null!;
    private Layout _offset8In24 = null!;
    private Layout _varint = null!;

    [Params(16, 1024, 65536)]
    public int PayloadSize { get; set; }

    public static IFrameCodec Offset8In24Codec { get; } = new BinaryLengthCodec(4, Endianness.BigEndian, fieldOffset: 8, headerLength: 24);

    [GlobalSetup]
    public void Setup()
    {
        _ascii = new Layout(AsciiDecimalCodec.Default, PayloadSize);
        _uint32 = new Layout(BinaryLengthCodec.UInt32BigEndian, PayloadSize);
        _offset8In24 = new Layout(Offset8In24Codec, PayloadSize);
        _varint = new Layout(VarintCodec.Instance, PayloadSize);
    }

    /// <summary>The floor: a contiguous span, the length read with BinaryPrimitives, no codec.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = HeadersPerInvoke)]
    public long IdealSpanLoop()
    {
        Layout layout = _uint32;
        ReadOnlySpan<byte> buffer = layout.Workload.Buffer;
        int position = 0;
        long sum = 0;
        for (int k = 0; k < HeadersPerInvoke; k++)
        {
            if (position == buffer.Length)
            {
                position = 0;
            }

            int length = BinaryPrimitives.ReadInt32BigEndian(buffer[position..]);
            int start = position + 4;
            sum += Workload.FrameSum(length, buffer[start], buffer[start + length - 1]);
            position = start + length;
        }

        Check.Frames(nameof(IdealSpanLoop), HeadersPerInvoke, sum, HeadersPerInvoke, layout.ExpectedChecksum);
        return sum;
    }

    [Benchmark(OperationsPerInvoke = HeadersPerInvoke)]
    public long Ascii10Left() => Parse(_ascii, nameof(Ascii10Left));

    [Benchmark(OperationsPerInvoke = HeadersPerInvoke)]
    public long UInt32BigEndian() => Parse(_uint32, nameof(UInt32BigEndian));

    [Benchmark(OperationsPerInvoke = HeadersPerInvoke)]
    public long Offset8In24Header() => Parse(_offset8In24, nameof(Offset8In24Header));

    [Benchmark(OperationsPerInvoke = HeadersPerInvoke)]
    public long Varint() => Parse(_varint, nameof(Varint));

    [Benchmark(OperationsPerInvoke = HeadersPerInvoke)]
    public long Ascii10Left_Split() => ParseSplit(_ascii, nameof(Ascii10Left_Split));

    [Benchmark(OperationsPerInvoke = HeadersPerInvoke)]
    public long UInt32BigEndian_Split() => ParseSplit(_uint32, nameof(UInt32BigEndian_Split));

    [Benchmark(OperationsPerInvoke = HeadersPerInvoke)]
    public long Offset8In24Header_Split() => ParseSplit(_offset8In24, nameof(Offset8In24Header_Split));

    [Benchmark(OperationsPerInvoke = HeadersPerInvoke)]
    public long Varint_Split() => ParseSplit(_varint, nameof(Varint_Split));

    /// <summary>Lets the tests corrupt a workload to prove the checks fire.</summary>
    public byte[] BufferOf(string codec) => codec switch
    {
        "ascii" => _ascii.Workload.Buffer,
        "uint32" => _uint32.Workload.Buffer,
        "offset8In24" => _offset8In24.Workload.Buffer,
        _ => _varint.Workload.Buffer,
    };

    private static long Parse(Layout layout, string name)
    {
        IFrameCodec codec = layout.Workload.Codec;
        ReadOnlySpan<byte> buffer = layout.Workload.Buffer;
        int position = 0;
        long sum = 0;
        for (int k = 0; k < HeadersPerInvoke; k++)
        {
            if (position == buffer.Length)
            {
                position = 0;
            }

            if (codec.DecodeHeader(buffer[position..], out int headerLength, out long payloadLength) != OperationStatus.Done)
            {
                throw new InvalidOperationException($"{name}: no header at offset {position}.");
            }

            int start = position + headerLength;
            int length = (int)payloadLength;
            sum += Workload.FrameSum(length, buffer[start], buffer[start + length - 1]);
            position = start + length;
        }

        Check.Frames(name, HeadersPerInvoke, sum, HeadersPerInvoke, layout.ExpectedChecksum);
        return sum;
    }

    private static long ParseSplit(Layout layout, string name)
    {
        IFrameCodec codec = layout.Workload.Codec;
        ReadOnlySequence<byte>[] split = layout.Split;
        ReadOnlyMemory<byte>[] tails = layout.SplitTails;
        int index = 0;
        long sum = 0;
        for (int k = 0; k < HeadersPerInvoke; k++)
        {
            if (index == split.Length)
            {
                index = 0;
            }

            if (codec.DecodeHeader(in split[index], out _, out long payloadLength) != OperationStatus.Done)
            {
                throw new InvalidOperationException($"{name}: no header in split frame {index}.");
            }

            // The payload is the end of the second segment.
            ReadOnlySpan<byte> tail = tails[index].Span;
            int length = (int)payloadLength;
            sum += Workload.FrameSum(length, tail[^length], tail[^1]);
            index++;
        }

        Check.Frames(name, HeadersPerInvoke, sum, HeadersPerInvoke, layout.ExpectedSplitChecksum);
        return sum;
    }

    private sealed class Layout
    {
        public Layout(IFrameCodec codec, int payloadSize)
        {
            Workload = Workload.Create(codec, payloadSize);
            int frames = Workload.FrameCount;
            for (int k = 0; k < HeadersPerInvoke; k++)
            {
                ExpectedChecksum += Workload.ExpectedFrameSum(k % frames, payloadSize);
            }

            int splitFrames = Math.Min(frames, MaxSplitFrames);
            Split = new ReadOnlySequence<byte>[splitFrames];
            SplitTails = new ReadOnlyMemory<byte>[splitFrames];
            int headerLength = codec.GetHeaderLength(payloadSize);
            int cut = Math.Max(1, headerLength / 2);
            int start = 0;
            for (int i = 0; i < splitFrames; i++)
            {
                var head = new ReadOnlyMemory<byte>(Workload.Buffer, start, cut);
                var tail = new ReadOnlyMemory<byte>(Workload.Buffer, start + cut, headerLength + payloadSize - cut);
                Split[i] = SegmentedSequence.Create(head, tail);
                SplitTails[i] = tail;
                start = Workload.FrameEnds[i];
            }

            for (int k = 0; k < HeadersPerInvoke; k++)
            {
                ExpectedSplitChecksum += Workload.ExpectedFrameSum(k % splitFrames, payloadSize);
            }
        }

        public Workload Workload { get; }

        public long ExpectedChecksum { get; }

        public ReadOnlySequence<byte>[] Split { get; }

        public ReadOnlyMemory<byte>[] SplitTails { get; }

        public long ExpectedSplitChecksum { get; }
    }
}
