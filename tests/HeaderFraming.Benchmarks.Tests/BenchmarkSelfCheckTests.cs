using System.Reflection;
using BenchmarkDotNet.Attributes;
using HeaderFraming.Benchmarks.Infrastructure;

namespace HeaderFraming.Benchmarks.Tests;

/// <summary>Benchmarks cannot rot: every benchmark body runs once on a tiny workload and its self-check must pass; a
/// corrupted workload must make the self-checks throw.</summary>
public class BenchmarkSelfCheckTests
{
    public static IEnumerable<object[]> Cases() => BenchmarkBodies.Cases();

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task EveryBenchmarkBodyRunsOnceAndPassesItsSelfCheck(string className, string method, int payloadSize)
    {
        Type type = BenchmarkBodies.Classes.Single(t => t.Name == className);
        object instance = BenchmarkBodies.Create(type, payloadSize);
        try
        {
            await BenchmarkBodies.InvokeAsync(instance, method);
        }
        finally
        {
            BenchmarkBodies.Cleanup(instance);
        }
    }

    [Fact]
    public void EveryBenchmarkClassHasMemoryDiagnoserOneBaselineAndPayloadSizeParams()
    {
        Assert.NotEmpty(BenchmarkBodies.Classes);
        foreach (Type type in BenchmarkBodies.Classes)
        {
            Assert.True(type.GetCustomAttribute<MemoryDiagnoserAttribute>() != null, $"{type.Name} has no [MemoryDiagnoser].");
            int baselines = BenchmarkBodies.BenchmarkMethods(type).Count(m => m.GetCustomAttribute<BenchmarkAttribute>()!.Baseline);
            Assert.True(baselines == 1, $"{type.Name} has {baselines} baselines; one is expected.");
            Assert.NotEmpty(BenchmarkBodies.PayloadSizes(type));
        }
    }

    [Fact]
    public void WholeBufferBenchmarksDecodeTheFrameCountTheColumnsDivideBy()
    {
        // The ns/frame and B/frame columns divide by FrameCountFor(size): every workload of a size has that many frames.
        Workload workload = Workload.Create(Codecs.AsciiDecimalCodec.Default, 16);
        Assert.Equal(Workload.FrameCountFor(16), workload.FrameCount);
        Assert.Equal(BenchmarkBodies.TestBufferBytes / 20, workload.FrameCount);
    }

    [Theory]
    [InlineData(nameof(FrameReaderBenchmarks.IdealSpanLoop))]
    [InlineData(nameof(FrameReaderBenchmarks.NaiveStream))]
    [InlineData(nameof(FrameReaderBenchmarks.StraightforwardPipelines))]
    [InlineData(nameof(FrameReaderBenchmarks.DotNettyLengthFieldDecoder))]
    [InlineData(nameof(FrameReaderBenchmarks.FrameReader_StreamPipe))]
    [InlineData(nameof(FrameReaderBenchmarks.FrameReader_Pipe))]
    public async Task ACorruptedPayloadMakesTheDecoderSelfCheckThrow(string method)
    {
        var benchmarks = BenchmarkBodies.Create<FrameReaderBenchmarks>(16);
        try
        {
            benchmarks.UInt32Buffer[20 + 4 + 15] ^= 1; // frame 1's last payload byte; the frame count stays right
            var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => BenchmarkBodies.InvokeAsync(benchmarks, method));
            Assert.Contains("checksum", ex.Message, StringComparison.Ordinal);
        }
        finally
        {
            BenchmarkBodies.Cleanup(benchmarks);
        }
    }

    [Fact]
    public async Task AMissingFrameMakesTheDecoderSelfCheckThrow()
    {
        var benchmarks = BenchmarkBodies.Create<FrameReaderBenchmarks>(16);
        benchmarks.UInt32Buffer[3] = 36; // frame 0 swallows frame 1: one frame fewer
        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => BenchmarkBodies.InvokeAsync(benchmarks, nameof(FrameReaderBenchmarks.FrameReader_StreamPipe)));
        Assert.Contains("frames", ex.Message, StringComparison.Ordinal);
        BenchmarkBodies.Cleanup(benchmarks);
    }

    [Theory]
    [InlineData(nameof(HeaderParseBenchmarks.IdealSpanLoop), "uint32", 4)]
    [InlineData(nameof(HeaderParseBenchmarks.Ascii10Left), "ascii", 10)]
    [InlineData(nameof(HeaderParseBenchmarks.UInt32BigEndian), "uint32", 4)]
    [InlineData(nameof(HeaderParseBenchmarks.Offset8In24Header_Split), "offset8In24", 24)]
    [InlineData(nameof(HeaderParseBenchmarks.Varint_Split), "varint", 1)]
    public async Task ACorruptedPayloadMakesTheHeaderParseSelfCheckThrow(string method, string codec, int payloadByte)
    {
        var benchmarks = BenchmarkBodies.Create<HeaderParseBenchmarks>(16);
        benchmarks.BufferOf(codec)[payloadByte] ^= 1; // frame 0's first payload byte
        await Assert.ThrowsAsync<InvalidOperationException>(() => BenchmarkBodies.InvokeAsync(benchmarks, method));
    }

    [Fact]
    public async Task AWrongReferenceEncodingMakesTheWriterSelfCheckThrow()
    {
        var benchmarks = BenchmarkBodies.Create<FrameWriterBenchmarks>(1024);
        // The payloads are copied from the same buffer, so change a header byte: no writer can produce it any more.
        benchmarks.ExpectedUInt32[0] ^= 1;
        foreach (MethodInfo method in BenchmarkBodies.BenchmarkMethods(typeof(FrameWriterBenchmarks)).Where(m => !m.Name.Contains("Ascii", StringComparison.Ordinal)))
        {
            await Assert.ThrowsAsync<InvalidOperationException>(() => BenchmarkBodies.InvokeAsync(benchmarks, method.Name));
        }
    }

    [Fact]
    public async Task ACorruptedMessageMakesTheSeedTutorialSelfCheckThrow()
    {
        var benchmarks = BenchmarkBodies.Create<SeedTutorialBenchmarks>(16);
        benchmarks.Buffer[10 + 15] = (byte)'z'; // frame 0's last payload byte ('p' before)
        await Assert.ThrowsAsync<InvalidOperationException>(() => BenchmarkBodies.InvokeAsync(benchmarks, nameof(SeedTutorialBenchmarks.SeedTutorialClient)));
    }
}
