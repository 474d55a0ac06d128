using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace HeaderFraming.Benchmarks.Footprint;

/// <summary>
/// The idle footprint probe (issue "server-grade connections", item 9): how much memory a server holds per idle
/// connection. It measures memory, not time.
/// </summary>
/// <remarks>
/// <para><c>dotnet run -c Release --project benchmarks/HeaderFraming.Benchmarks -- --footprint [N] [--rows socket,floor]</c>
/// (N defaults to 10,000; the rows are <c>socket</c>, <c>networkstream</c>, <c>sslstream</c>, <c>floor</c> and
/// <c>floor4k</c>).</para>
/// <para>Each row runs in a fresh pair of processes, so that no row inherits another's heap, pool or threads: a server
/// (<see cref="FootprintServer"/>, the only process measured) and its clients (<see cref="FootprintClients"/>). The
/// figures per connection are the growth of the server's managed heap (<see cref="GC.GetTotalMemory"/> after a full
/// collection) and resident set (VmRSS) from before the first connection to when all N are idle, divided by N.</para>
/// </remarks>
internal static class FootprintProbe
{
    private const int DefaultCount = 10_000;

    /// <summary>The issue's targets for an idle FramedConnection over a Socket.</summary>
    private const double TargetKiB = 4;
    private const double TargetFloorRatio = 3;

    public static async Task<int> RunAsync(string[] arguments)
    {
        if (!TryParse(arguments, out int count, out IReadOnlyList<FootprintRow> rows, out string? error))
        {
            Console.Error.WriteLine(error);
            Console.Error.WriteLine("usage: --footprint [N] [--rows " + string.Join(',', FootprintRow.All.Select(r => r.Name)) + "]");
            return 2;
        }

        var stopwatch = Stopwatch.StartNew();
        var results = new List<(FootprintRow Row, FootprintResult? Result)>();
        foreach (FootprintRow row in rows)
        {
            Console.Error.WriteLine($"footprint: {row.Title}, {count:N0} connections");
            results.Add((row, await RunRowAsync(row, count)));
        }

        Console.Out.WriteLine(Table(results, count));
        Console.Error.WriteLine(FormattableString.Invariant($"footprint: {rows.Count} rows in {stopwatch.Elapsed.TotalSeconds:N0} s"));
        return results.All(r => r.Result is not null) ? 0 : 1;
    }

    private static async Task<FootprintResult?> RunRowAsync(FootprintRow row, int count)
    {
        TimeSpan limit = FootprintServer.Limit(count) + TimeSpan.FromSeconds(60 + FootprintServer.PauseSeconds);
        using var timeout = new CancellationTokenSource(limit);
        using ChildProcess server = ChildProcess.Start(
            $"  [{row.Name}] ",
            "--footprint-server",
            row.Name,
            count.ToString(CultureInfo.InvariantCulture));
        FootprintResult? result = null;
        try
        {
            while (await server.ReadLineAsync(timeout.Token) is string line)
            {
                result ??= FootprintResult.TryParse(line);
                if (result is null)
                {
                    Console.Error.WriteLine($"  [{row.Name}] {line}");
                }
            }

            await server.Exited.WaitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine(FormattableString.Invariant($"footprint: {row.Name} did not finish within {limit.TotalSeconds:N0} s"));
            server.Kill();
            return null;
        }

        if (server.ExitCode != 0 || result is null)
        {
            Console.Error.WriteLine($"footprint: {row.Name} failed (exit code {server.ExitCode})");
            return null;
        }

        return result;
    }

    private static string Table(List<(FootprintRow Row, FootprintResult? Result)> results, int count)
    {
        FootprintResult? floor = results.FirstOrDefault(r => r.Row == FootprintRow.Floor).Result;
        var table = new StringBuilder();
        table.AppendLine(CultureInfo.InvariantCulture, $"Idle footprint, {count:N0} loopback connections per row (server process only; per idle connection):");
        table.AppendLine();
        table.AppendLine("| Row | N | Managed heap (KiB) | RSS (KiB) | Heap vs floor |");
        table.AppendLine("| --- | ---: | ---: | ---: | ---: |");
        foreach ((FootprintRow row, FootprintResult? result) in results)
        {
            if (result is null)
            {
                table.AppendLine(CultureInfo.InvariantCulture, $"| {row.Title} | {count:N0} | failed | failed | |");
                continue;
            }

            table.AppendLine(CultureInfo.InvariantCulture,
                $"| {row.Title} | {result.Count:N0} | {result.ManagedKiBPerConnection:N2} | {result.ResidentKiBPerConnection:N2} | {Ratio(result, floor)} |");
        }

        FootprintResult? socket = results.FirstOrDefault(r => r.Row == FootprintRow.Socket).Result;
        if (socket is not null)
        {
            double kib = socket.ManagedKiBPerConnection;
            table.AppendLine();
            table.AppendLine(CultureInfo.InvariantCulture,
                $"Target: ≤ {TargetKiB:N0} KiB managed heap per idle FramedConnection over a Socket: {kib:N2} KiB, {(kib <= TargetKiB ? "met" : "MISSED")}.");
            if (floor is not null)
            {
                double ratio = kib / floor.ManagedKiBPerConnection;
                table.AppendLine(CultureInfo.InvariantCulture,
                    $"Target: ≤ {TargetFloorRatio:N0}x the floor: {ratio:N2}x, {(ratio <= TargetFloorRatio ? "met" : "MISSED")}.");
            }
        }

        return table.ToString();
    }

    private static string Ratio(FootprintResult result, FootprintResult? floor)
        => floor is null || floor.ManagedKiBPerConnection <= 0
            ? "n/a"
            : (result.ManagedKiBPerConnection / floor.ManagedKiBPerConnection).ToString("N2", CultureInfo.InvariantCulture) + "x";

    private static bool TryParse(string[] arguments, out int count, out IReadOnlyList<FootprintRow> rows, out string? error)
    {
        count = DefaultCount;
        rows = FootprintRow.All;
        error = null;
        for (int i = 0; i < arguments.Length; i++)
        {
            if (arguments[i] == "--rows" && i + 1 < arguments.Length)
            {
                try
                {
                    rows = arguments[++i].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                        .Select(FootprintRow.Parse)
                        .Distinct()
                        .OrderBy(r => FootprintRow.All.ToList().IndexOf(r))
                        .ToArray();
                }
                catch (ArgumentException ex)
                {
                    error = ex.Message;
                    return false;
                }
            }
            else if (int.TryParse(arguments[i], NumberStyles.AllowThousands, CultureInfo.InvariantCulture, out int n) && n > 0)
            {
                count = n;
            }
            else
            {
                error = $"footprint: unexpected argument '{arguments[i]}'";
                return false;
            }
        }

        if (rows.Count == 0)
        {
            error = "footprint: --rows names no row";
            return false;
        }

        return true;
    }
}
