using System.Diagnostics;
using System.Text.RegularExpressions;

namespace HeaderFraming.Benchmarks.Tests;

/// <summary>The idle footprint probe (<c>--footprint</c>) cannot rot: it runs end to end on a few connections per row, in
/// the child processes it makes (the benchmarks' executable, copied beside these tests). No figure is checked here (a few
/// connections are noise); <c>IdleFootprintTests</c> holds the bound.</summary>
public class FootprintProbeTests
{
    private static readonly string[] s_titles =
    [
        "FramedConnection over a Socket",
        "FramedConnection over a NetworkStream",
        "FramedConnection over an SslStream",
        "bare Socket, pending zero-byte receive (floor)",
        "bare Socket, pending 4 KiB receive",
    ];

    [Fact]
    public async Task TheFootprintProbeMeasuresEveryRowInItsOwnProcessesAndPrintsTheTable()
    {
        (int exitCode, string output, string errors) = await RunProbeAsync("--footprint", "40");

        Assert.True(exitCode == 0, $"exit code {exitCode}: {errors}");
        Assert.Contains("| Row | N | Managed heap (KiB) | RSS (KiB) | Heap vs floor |", output);
        foreach (string title in s_titles)
        {
            Assert.Matches(new Regex($@"\| {Regex.Escape(title)} \| 40 \| -?[0-9.,]+ \| -?[0-9.,]+ \| -?[0-9.,]+x \|"), output);
        }

        Assert.Contains("Target: ≤ 4 KiB managed heap per idle FramedConnection over a Socket", output);
        Assert.Contains("Target: ≤ 3x the floor", output);
    }

    [Fact]
    public async Task TheFootprintProbeRunsOnlyTheRowsAskedFor()
    {
        (int exitCode, string output, string errors) = await RunProbeAsync("--footprint", "40", "--rows", "floor,socket");

        Assert.True(exitCode == 0, $"exit code {exitCode}: {errors}");
        string[] rows = output.Split('\n').Where(l => l.StartsWith("| ", StringComparison.Ordinal) && l.Contains(" | 40 | ", StringComparison.Ordinal)).ToArray();
        Assert.Equal(2, rows.Length);
        Assert.StartsWith("| FramedConnection over a Socket | 40 |", rows[0]);
        Assert.StartsWith("| bare Socket, pending zero-byte receive (floor) | 40 |", rows[1]);
    }

    [Fact]
    public async Task TheFootprintProbeRejectsAnUnknownRowBeforeStartingAnything()
    {
        (int exitCode, string output, string errors) = await RunProbeAsync("--footprint", "--rows", "socket,nope");

        Assert.Equal(2, exitCode);
        Assert.Contains("Unknown footprint row 'nope'", errors);
        Assert.DoesNotContain("| Row |", output);
    }

    /// <summary>Runs the benchmarks' executable with <paramref name="arguments"/>; kills it (this one process) if it takes
    /// more than two minutes.</summary>
    private static async Task<(int ExitCode, string Output, string Errors)> RunProbeAsync(params string[] arguments)
    {
        string executable = Path.Combine(AppContext.BaseDirectory, OperatingSystem.IsWindows() ? "HeaderFraming.Benchmarks.exe" : "HeaderFraming.Benchmarks");
        var start = new ProcessStartInfo(executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using Process process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {executable}");
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> errors = process.StandardError.ReadToEndAsync();
        using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        try
        {
            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: false);
            throw new TimeoutException($"the footprint probe did not finish within 2 minutes: {await errors}");
        }

        return (process.ExitCode, await output, await errors);
    }
}
