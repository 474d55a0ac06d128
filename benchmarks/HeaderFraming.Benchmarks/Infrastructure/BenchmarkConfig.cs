using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using Perfolizer.Horology;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace HeaderFraming.Benchmarks.Infrastructure;

/// <summary>Marks a benchmark class whose every invocation decodes or encodes the whole workload of
/// <see cref="Workload.FrameCountFor"/> frames, so its time and allocations can be shown per frame.</summary>
public interface IWholeBufferBenchmark
{
    int PayloadSize { get; }
}

/// <summary>Adds the per-frame columns to a benchmark class.</summary>
public sealed class PerFrameConfig : ManualConfig
{
    public PerFrameConfig()
    {
        AddColumn(new PerFrameColumn(allocation: false), new PerFrameColumn(allocation: true));
    }
}

/// <summary>The quick mode: one launch, 15 warmups and 5 iterations of 200 ms per case (~8 minutes for the suite on 2 cores).
/// More short iterations rather than fewer long ones, so that a burst of load from a neighbour is an outlier BenchmarkDotNet
/// can drop rather than a third of the sample.</summary>
/// <remarks>Why 15 warmups: the pilot sizes an iteration while the async read loops still run unoptimized code (9 calls
/// fill 200 ms at ~25 ms a call), so 3 warmups made only ~30 calls, and tiered compilation (with PGO's instrumented tier
/// in between) replaced the code during the measured iterations: the span and <c>Frame</c> loops measured 4.6 ms in some
/// iterations and 6.9 ms in others of the same run, the slow ones first. After 12 warmups every iteration ran the final
/// code.</remarks>
public static class QuickJob
{
    public static Job Create() => Job.Default
        .WithId("Quick")
        .WithLaunchCount(1)
        .WithWarmupCount(15)
        .WithIterationCount(5)
        .WithIterationTime(TimeInterval.FromMilliseconds(200));
}

/// <summary>"ns/frame" or "B/frame": the mean time or the allocated bytes of one invocation divided by its frame count.</summary>
public sealed class PerFrameColumn : IColumn
{
    private readonly bool _allocation;

    public PerFrameColumn(bool allocation) => _allocation = allocation;

    public string Id => ColumnName;

    public string ColumnName => _allocation ? "B/frame" : "ns/frame";

    public bool AlwaysShow => true;

    public ColumnCategory Category => ColumnCategory.Custom;

    public int PriorityInCategory => _allocation ? 1 : 0;

    public bool IsNumeric => true;

    public UnitType UnitType => UnitType.Dimensionless;

    public string Legend => _allocation
        ? "Bytes allocated per invocation divided by the frames it decoded or encoded"
        : "Mean time per invocation divided by the frames it decoded or encoded";

    public bool IsAvailable(Summary summary) => true;

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, summary.Style);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        if (!typeof(IWholeBufferBenchmark).IsAssignableFrom(benchmarkCase.Descriptor.Type)
            || benchmarkCase.Parameters["PayloadSize"] is not int payloadSize)
        {
            return "-";
        }

        BenchmarkReport? report = summary[benchmarkCase];
        double frames = Workload.FrameCountFor(payloadSize);
        if (_allocation)
        {
            long? bytes = report?.GcStats.GetBytesAllocatedPerOperation(benchmarkCase);
            return bytes is null ? "?" : (bytes.Value / frames).ToString("0.##", System.Globalization.CultureInfo.InvariantCulture);
        }

        double? mean = report?.ResultStatistics?.Mean;
        return mean is null ? "?" : (mean.Value / frames).ToString("0.##", System.Globalization.CultureInfo.InvariantCulture);
    }
}
