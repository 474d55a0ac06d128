using System.Diagnostics;
using System.Threading.Channels;

namespace HeaderFraming.Benchmarks.Footprint;

/// <summary>
/// This executable started again with hidden arguments (a footprint server or its clients): its standard output is read
/// line by line, its standard error is passed through with a prefix, and its standard input stays open for as long as it
/// should live (a child of the footprint probe exits when its input closes, so it also goes when its parent dies).
/// Only this process is ever killed, by its id, and only if it does not exit by itself.
/// </summary>
internal sealed class ChildProcess : IDisposable
{
    private readonly Process _process;
    private readonly Channel<string> _lines = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true });
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private ChildProcess(Process process) => _process = process;

    public int Id => _process.Id;

    /// <summary>Completes when the process has exited.</summary>
    public Task Exited => _exited.Task;

    public int ExitCode => _process.ExitCode;

    public static ChildProcess Start(string errorPrefix, params string[] arguments)
    {
        string executable = Environment.ProcessPath ?? throw new InvalidOperationException("The path of this executable is unknown.");
        var start = new ProcessStartInfo(executable)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };

        // Run as `dotnet HeaderFraming.Benchmarks.dll`: the child needs the assembly too.
        if (string.Equals(Path.GetFileNameWithoutExtension(executable), "dotnet", StringComparison.OrdinalIgnoreCase))
        {
            start.ArgumentList.Add(typeof(ChildProcess).Assembly.Location);
        }

        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var child = new ChildProcess(process);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                child._lines.Writer.TryComplete();
            }
            else
            {
                child._lines.Writer.TryWrite(e.Data);
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                Console.Error.WriteLine(errorPrefix + e.Data);
            }
        };
        process.Exited += (_, _) => child._exited.TrySetResult();
        if (!process.Start())
        {
            throw new InvalidOperationException($"Could not start {executable}.");
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return child;
    }

    /// <summary>Waits for the next line of standard output; <see langword="null"/> when the output ended first.</summary>
    public async Task<string?> ReadLineAsync(CancellationToken cancellationToken)
    {
        while (await _lines.Reader.WaitToReadAsync(cancellationToken))
        {
            if (_lines.Reader.TryRead(out string? line))
            {
                return line;
            }
        }

        return null;
    }

    /// <summary>Closes the child's input (its signal to exit), waits up to <paramref name="grace"/> for it to exit, and kills
    /// it (this one process, by id) if it has not.</summary>
    /// <returns><see langword="true"/> if it exited by itself.</returns>
    public async Task<bool> StopAsync(TimeSpan grace)
    {
        try
        {
            _process.StandardInput.Close();
        }
        catch (IOException)
        {
            // It is gone already.
        }

        if (await Task.WhenAny(Exited, Task.Delay(grace)) == Exited)
        {
            await WaitForOutputAsync();
            return true;
        }

        Kill();
        return false;
    }

    /// <summary>Kills the child (this one process, by id) if it is still running.</summary>
    public void Kill()
    {
        try
        {
            if (!_process.HasExited)
            {
                Console.Error.WriteLine($"footprint: killing child process {_process.Id}");
                _process.Kill(entireProcessTree: false);
                _process.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException)
        {
            // It exited meanwhile.
        }
    }

    public void Dispose()
    {
        Kill();
        _process.Dispose();
    }

    private async Task WaitForOutputAsync()
    {
        // The last lines of output and error may arrive after Exited; WaitForExitAsync waits for the end of both.
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            await _process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            // A grandchild kept the pipes open; what arrived is enough.
        }
    }
}
