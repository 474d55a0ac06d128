using System.Diagnostics;

namespace HeaderFraming.Tests.Infrastructure;

/// <summary>Runs one of the Python peers under Python/ and collects its output; killed on dispose.</summary>
public sealed class PythonPeer : IDisposable
{
    private readonly Process _process;
    private readonly List<string> _lines = new();
    private readonly SemaphoreSlim _lineAdded = new(0);

    private PythonPeer(Process process)
    {
        _process = process;
        _process.OutputDataReceived += (_, e) =>
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
        _process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data != null)
            {
                lock (_lines)
                {
                    _lines.Add("ERR " + e.Data);
                }
            }
        };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public static string Python => Environment.GetEnvironmentVariable("PYTHON") ?? "python3";

    public static PythonPeer Start(string script, params string[] args)
    {
        var info = new ProcessStartInfo(Python)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add("-u");
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Python", script));
        foreach (string arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        return new PythonPeer(Process.Start(info) ?? throw new InvalidOperationException("python3 did not start"));
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

    public async Task<string> WaitForLineAsync(Func<string, bool> predicate, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        while (true)
        {
            string? match = Lines.FirstOrDefault(predicate);
            if (match != null)
            {
                return match;
            }

            try
            {
                await _lineAdded.WaitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException("The Python peer did not print the expected line. Output:\n" + string.Join("\n", Lines));
            }
        }
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"The Python peer did not exit within {timeout.TotalSeconds:N0} s. Output:\n" + string.Join("\n", Lines));
        }

        _process.WaitForExit();
        return _process.ExitCode;
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
        }

        _process.Dispose();
        _lineAdded.Dispose();
    }
}
