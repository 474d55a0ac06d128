using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using HeaderFraming.Tests.Infrastructure;

namespace HeaderFraming.Protocols.Tests.Infrastructure;

/// <summary>
/// One server process started by a test: as the OS user it wants (through <c>setpriv</c> when the tests run as root), its
/// standard output and error appended to a log file, stopped by a signal to its own process id only (never by name).
/// </summary>
/// <remarks>
/// The process is started through <c>sh -c 'exec …'</c>, so <see cref="ProcessId"/> is the server itself (setpriv execs
/// too), its output goes to a file rather than a pipe (a helper it forks cannot keep a pipe of ours open), and its stdin is
/// <c>/dev/null</c>.
/// </remarks>
public sealed class ServerHost : IAsyncDisposable
{
    public const int SigKill = 9;
    public const int SigTerm = 15;

    private static readonly TimeSpan s_probeInterval = TimeSpan.FromMilliseconds(20);
    private readonly Process _process;
    private readonly string[] _logFiles;
    private bool _stopped;

    private ServerHost(string name, Process process, string logFile, string[] logFiles)
    {
        Name = name;
        _process = process;
        LogFile = logFile;
        _logFiles = logFiles;
    }

    /// <summary>The tests run as root (CI, these machines): servers that refuse root then run as their package's user.</summary>
    public static bool IsRoot { get; } = Environment.UserName == "root";

    public string Name { get; }

    public int ProcessId => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>Where the server's standard output and error go.</summary>
    public string LogFile { get; }

    /// <summary>The full path of <paramref name="program"/> (a name looked up as <see cref="RequiresProgramFactAttribute"/>
    /// does, or a path), or an exception saying it is not installed.</summary>
    public static string Locate(string program)
        => program.Contains('/', StringComparison.Ordinal)
            ? (File.Exists(program) ? program : throw new InvalidOperationException($"{program} is not installed."))
            : ServerProcess.Find(program) ?? throw new InvalidOperationException($"{program} is not installed.");

    /// <summary>Starts <paramref name="program"/>; it is not waited for (see <see cref="WaitUntilListeningAsync"/>).</summary>
    /// <param name="name">What failure messages call it.</param>
    /// <param name="program">A program name (looked up on the usual paths) or a full path.</param>
    /// <param name="arguments">Its arguments.</param>
    /// <param name="logFile">The file its standard output and error are appended to.</param>
    /// <param name="user">The OS user to run it as when the tests run as root; <see langword="null"/> for the current user.
    /// Ignored when not root (the server then runs as the current user).</param>
    /// <param name="environment">Variables added to (or, with a <see langword="null"/> value, removed from) its environment.</param>
    /// <param name="workingDirectory">Its working directory (setpriv keeps the caller's).</param>
    /// <param name="logFiles">More files (the server's own logs) whose ends go into failure messages.</param>
    public static ServerHost Start(
        string name,
        string program,
        IEnumerable<string> arguments,
        string logFile,
        string? user = null,
        IReadOnlyDictionary<string, string?>? environment = null,
        string? workingDirectory = null,
        params string[] logFiles)
    {
        var info = new ProcessStartInfo("/bin/sh") { UseShellExecute = false, WorkingDirectory = workingDirectory ?? string.Empty };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add("log=$1; shift; exec \"$@\" </dev/null >>\"$log\" 2>&1");
        info.ArgumentList.Add("sh");
        info.ArgumentList.Add(logFile);
        foreach (string argument in AsUser(user, Locate(program), arguments))
        {
            info.ArgumentList.Add(argument);
        }

        foreach ((string key, string? value) in environment ?? new Dictionary<string, string?>())
        {
            info.Environment[key] = value;
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException($"{name} could not be started.");
        return new ServerHost(name, process, logFile, logFiles);
    }

    /// <summary>Runs a one-shot command (an installer, a client, chown) to completion and returns its standard output; an exit
    /// code other than 0, or not finishing within <paramref name="timeout"/>, throws with everything it printed.</summary>
    public static async Task<string> RunAsync(
        string program,
        IEnumerable<string> arguments,
        TimeSpan timeout,
        string? user = null,
        IReadOnlyDictionary<string, string?>? environment = null,
        string? workingDirectory = null)
    {
        string[] command = AsUser(user, Locate(program), arguments).ToArray();
        var info = new ProcessStartInfo(command[0])
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            WorkingDirectory = workingDirectory ?? string.Empty,
        };
        foreach (string argument in command.Skip(1))
        {
            info.ArgumentList.Add(argument);
        }

        foreach ((string key, string? value) in environment ?? new Dictionary<string, string?>())
        {
            info.Environment[key] = value;
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException($"{command[0]} could not be started.");
        process.StandardInput.Close();
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> error = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            process.Kill();
            throw new TimeoutException($"`{string.Join(' ', command)}` did not finish within {timeout.TotalSeconds} s.");
        }

        string stdout = await output;
        string stderr = await error;
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"`{string.Join(' ', command)}` exited with {process.ExitCode}:\n{stdout}{stderr}");
        }

        return stdout;
    }

    /// <summary>Starts a server on free ports, again on new ones when it exits before listening (a port taken between the
    /// probe and the server's bind): <paramref name="start"/> picks the ports and starts it.</summary>
    public static async Task<T> RetryWhileThePortRacesAsync<T>(string name, Func<Task<T>> start, int attempts = 3)
    {
        var failures = new StringBuilder();
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                return await start();
            }
            catch (ServerStartException e) when (e.ExitedEarly && attempt < attempts)
            {
                failures.Append(CultureInfo.InvariantCulture, $"[attempt {attempt}] {e.Message}\n");
            }
            catch (ServerStartException e) when (failures.Length > 0)
            {
                throw new ServerStartException($"{name} did not start in {attempt} attempts:\n{failures}[attempt {attempt}] {e.Message}", e.ExitedEarly);
            }
        }
    }

    /// <summary>Waits until <paramref name="endPoint"/> accepts a TCP connection (closed at once); throws
    /// <see cref="ServerStartException"/> with the server's logs if it exits first or <paramref name="timeout"/> passes.</summary>
    /// <remarks>A connection is a connection: for a proxy, probe a port that does not forward (see <c>HaproxyServer</c>).</remarks>
    public async Task WaitUntilListeningAsync(IPEndPoint endPoint, TimeSpan timeout)
    {
        var elapsed = Stopwatch.StartNew();
        while (true)
        {
            if (_process.HasExited)
            {
                throw new ServerStartException(
                    $"{Name} (pid {ProcessId}) exited with {_process.ExitCode} before listening on {endPoint}.\n{Logs()}", exitedEarly: true);
            }

            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                using var attempt = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await socket.ConnectAsync(endPoint, attempt.Token);
                return;
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException)
            {
                if (elapsed.Elapsed > timeout)
                {
                    throw new ServerStartException(
                        $"{Name} (pid {ProcessId}) did not listen on {endPoint} within {timeout.TotalSeconds} s.\n{Logs()}", exitedEarly: false);
                }

                await Task.Delay(s_probeInterval);
            }
        }
    }

    /// <summary><see cref="WaitUntilListeningAsync"/>, and if it throws, the server is stopped (by its pid) before the
    /// exception goes on: the start of a server that did not come up leaves no process behind.</summary>
    public async Task WaitUntilListeningOrStopAsync(IPEndPoint endPoint, TimeSpan timeout)
    {
        try
        {
            await WaitUntilListeningAsync(endPoint, timeout);
        }
        catch
        {
            await DisposeAsync();
            throw;
        }
    }

    /// <summary>The end of the server's output and of its own log files, for failure messages.</summary>
    public string Logs()
    {
        var text = new StringBuilder();
        foreach (string file in _logFiles.Prepend(LogFile))
        {
            text.Append(CultureInfo.InvariantCulture, $"--- {file}:\n{Tail(file)}\n");
        }

        return text.ToString();
    }

    /// <summary>Sends <paramref name="signal"/> to the server's own process id and waits for it to exit; after
    /// <paramref name="grace"/> it is killed (SIGKILL, the same pid only). Returns its exit code.</summary>
    public async Task<int> StopAsync(int signal, TimeSpan grace)
    {
        _stopped = true;
        if (!_process.HasExited)
        {
            // The process has not been reaped (HasExited is false), so the pid is still this server's.
            _ = Kill(_process.Id, signal);
            try
            {
                await _process.WaitForExitAsync().WaitAsync(grace);
            }
            catch (TimeoutException)
            {
                _process.Kill();
                await _process.WaitForExitAsync();
            }
        }

        return _process.ExitCode;
    }

    /// <summary>Stops it with SIGTERM (10 s of grace) unless <see cref="StopAsync"/> already did.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!_stopped)
        {
            await StopAsync(SigTerm, TimeSpan.FromSeconds(10));
        }

        _process.Dispose();
    }

    private static IEnumerable<string> AsUser(string? user, string path, IEnumerable<string> arguments)
        => user != null && IsRoot
            ? ["/usr/bin/setpriv", $"--reuid={user}", $"--regid={user}", "--init-groups", "--", path, .. arguments]
            : [path, .. arguments];

    private static string Tail(string file)
    {
        try
        {
            string text = File.ReadAllText(file);
            return text.Length <= 4000 ? text : "…" + text[^4000..];
        }
        catch (IOException e)
        {
            return $"({e.Message})";
        }
        catch (UnauthorizedAccessException e)
        {
            return $"({e.Message})";
        }
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}
