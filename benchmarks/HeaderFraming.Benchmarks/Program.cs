using System.Globalization;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Running;
using HeaderFraming.Benchmarks.Footprint;
using HeaderFraming.Benchmarks.Infrastructure;

namespace HeaderFraming.Benchmarks;

public static class Program
{
    /// <summary>
    /// <c>dotnet run -c Release --project benchmarks/HeaderFraming.Benchmarks -- --filter '*'</c> for the full suite;
    /// add <c>--quick</c> for the short job (one launch, 3 warmups, 5 iterations of 200 ms) that runs in under 10 minutes.
    /// <c>--footprint [N] [--rows socket,floor]</c> runs the idle footprint probe instead (memory, not time; see
    /// <see cref="FootprintProbe"/>); <c>--footprint-server</c> and <c>--footprint-clients</c> are its child processes.
    /// </summary>
    public static int Main(string[] args)
    {
        switch (args.FirstOrDefault())
        {
            case "--footprint":
                return FootprintProbe.RunAsync(args[1..]).GetAwaiter().GetResult();
            case "--footprint-server" when args.Length == 3:
                return FootprintServer.RunAsync(FootprintRow.Parse(args[1]), int.Parse(args[2], CultureInfo.InvariantCulture)).GetAwaiter().GetResult();
            case "--footprint-clients" when args.Length == 4:
                return FootprintClients.RunAsync(int.Parse(args[1], CultureInfo.InvariantCulture), int.Parse(args[2], CultureInfo.InvariantCulture), args[3]).GetAwaiter().GetResult();
        }

        IConfig config = DefaultConfig.Instance;
        if (args.Contains("--quick"))
        {
            args = args.Where(a => a != "--quick").ToArray();
            config = config.AddJob(QuickJob.Create());
        }

        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, config);
        return 0;
    }
}
