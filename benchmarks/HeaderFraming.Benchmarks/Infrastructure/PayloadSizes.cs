namespace HeaderFraming.Benchmarks.Infrastructure;

/// <summary>
/// The payload sizes of the whole-buffer benchmarks: 16, 1024 and 65536 bytes, or the comma-separated list in the
/// <c>HEADERFRAMING_BENCH_PAYLOADS</c> environment variable (e.g. <c>16</c>), to measure one size quickly.
/// </summary>
public static class PayloadSizes
{
    public static IEnumerable<int> Values
        => Environment.GetEnvironmentVariable("HEADERFRAMING_BENCH_PAYLOADS") is { Length: > 0 } list
            ? list.Split(',').Select(int.Parse)
            : [16, 1024, 65536];
}
