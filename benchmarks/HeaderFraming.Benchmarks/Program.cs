using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Running;
using HeaderFraming.Benchmarks.Infrastructure;

namespace HeaderFraming.Benchmarks;

public static class Program
{
    /// <summary>
    /// <c>dotnet run -c Release --project benchmarks/HeaderFraming.Benchmarks -- --filter '*'</c> for the full suite;
    /// add <c>--quick</c> for the short job (one launch, 3 warmups, 5 iterations of 200 ms) that runs in under 10 minutes.
    /// </summary>
    public static void Main(string[] args)
    {
        IConfig config = DefaultConfig.Instance;
        if (args.Contains("--quick"))
        {
            args = args.Where(a => a != "--quick").ToArray();
            config = config.AddJob(QuickJob.Create());
        }

        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, config);
    }
}
