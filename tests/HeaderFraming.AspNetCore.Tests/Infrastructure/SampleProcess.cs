using System.Diagnostics;

namespace HeaderFraming.AspNetCore.Tests.Infrastructure;

/// <summary>Runs one of the samples (built with the tests: they are project references) from its own output folder, the
/// way <c>dotnet run</c> would, and collects what it prints; killed on dispose.</summary>
public sealed class SampleProcess : IDisposable
{
    private readonly Process _process;
    private readonly List<string> _lines = new();
    private readonly SemaphoreSlim _lineAdded = new(0);

    private SampleProcess(Process process)
    {
        _process = process;
        DataReceivedEventHandler collect = (_, e) =>
        {
            if (e.Data != null)
            {
                lock (_lines)
                {
                    _lines.Add(e.Data);
                }

                _lineAdded.Release();
            }
        };
        _process.OutputDataReceived += collect;
        _process.ErrorDataReceived += collect;
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public static SampleProcess Start(string sample, params string[] args)
    {
        // tests/HeaderFraming.AspNetCore.Tests/bin/<Configuration>/<tfm>/ → samples/<sample>/bin/<Configuration>/<tfm>/
        var output = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        string tfm = output.Name;
        string configuration = output.Parent!.Name;
        string root = output.Parent!.Parent!.Parent!.Parent!.Parent!.FullName;
        string folder = Path.Combine(root, "samples", sample, "bin", configuration, tfm);
        string dll = Path.Combine(folder, sample + ".dll");
        if (!File.Exists(dll))
        {
            throw new FileNotFoundException($"The sample {sample} is not built at {dll}.", dll);
        }

        var info = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(dll);
        foreach (string arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        info.Environment["DOTNET_ENVIRONMENT"] = "Production";
        info.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        return new SampleProcess(Process.Start(info) ?? throw new InvalidOperationException($"{sample} did not start"));
    }

    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (_lines)
            {
                return _lines.ToArray();
            }
        }
    }

    public async Task<string> WaitForLineAsync(Func<string, bool> predicate, TimeSpan timeout, int occurrence = 1)
    {
        using var cts = new CancellationTokenSource(timeout);
        while (true)
        {
            string[] matches = Lines.Where(predicate).ToArray();
            if (matches.Length >= occurrence)
            {
                return matches[occurrence - 1];
            }

            if (_process.HasExited)
            {
                throw new InvalidOperationException($"The sample exited ({_process.ExitCode}) before printing the expected line. Output:\n" + string.Join("\n", Lines));
            }

            try
            {
                await _lineAdded.WaitAsync(TimeSpan.FromMilliseconds(500), cts.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException("The sample did not print the expected line. Output:\n" + string.Join("\n", Lines));
            }
        }
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
        }

        _process.Dispose();
        _lineAdded.Dispose();
    }
}
