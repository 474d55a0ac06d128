using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using HeaderFraming.Testing;

namespace HeaderFraming.Tests.Infrastructure;

/// <summary>
/// A real server (dnsmasq, memcached) started by a test on 127.0.0.1 and a free port, killed on <see cref="Dispose"/>.
/// </summary>
public sealed class ServerProcess : IDisposable
{
    private static readonly string[] s_searchPath =
        (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':', StringSplitOptions.RemoveEmptyEntries)
        .Concat(["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"])
        .Distinct()
        .ToArray();

    private readonly Process _process;
    private readonly StringBuilder _output;
    private bool _disposed;

    private ServerProcess(Process process, StringBuilder output, int port)
    {
        _process = process;
        _output = output;
        Port = port;
    }

    public int Port { get; }

    public IPEndPoint EndPoint => new(IPAddress.Loopback, Port);

    /// <summary>What the server printed so far (for failure messages).</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>The full path of an installed program, or <see langword="null"/>.</summary>
    public static string? Find(string program)
        => s_searchPath.Select(dir => Path.Combine(dir, program)).FirstOrDefault(File.Exists);

    /// <summary>Starts <paramref name="program"/> with the arguments for a free port and waits until it accepts TCP connections.</summary>
    public static async Task<ServerProcess> StartAsync(string program, Func<int, IEnumerable<string>> arguments, TimeSpan timeout)
    {
        string path = Find(program) ?? throw new InvalidOperationException($"{program} is not installed.");
        string failures = string.Empty;

        // A free port can be taken between the probe and the server's bind: try a few.
        for (int attempt = 0; attempt < 3; attempt++)
        {
            int port = Loopback.FreePort();
            var info = new ProcessStartInfo(path)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                RedirectStandardInput = true,
                UseShellExecute = false,
            };
            foreach (string argument in arguments(port))
            {
                info.ArgumentList.Add(argument);
            }

            var output = new StringBuilder();
            var process = new Process { StartInfo = info };
            process.OutputDataReceived += (_, e) => Append(output, e.Data);
            process.ErrorDataReceived += (_, e) => Append(output, e.Data);
            process.Start();
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            var server = new ServerProcess(process, output, port);
            if (await server.WaitUntilListeningAsync(timeout))
            {
                return server;
            }

            failures += $"\n[{program} on port {port}, exit {(process.HasExited ? process.ExitCode.ToString(System.Globalization.CultureInfo.InvariantCulture) : "none")}] {server.Output}";
            server.Dispose();
        }

        throw new InvalidOperationException($"{program} did not start listening on 127.0.0.1:{failures}");
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException)
        {
            // It exited between the check and the kill.
        }

        _process.Dispose();
    }

    private static void Append(StringBuilder output, string? line)
    {
        if (line != null)
        {
            lock (output)
            {
                output.AppendLine(line);
            }
        }
    }

    private async Task<bool> WaitUntilListeningAsync(TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < timeout)
        {
            if (_process.HasExited)
            {
                return false;
            }

            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                await socket.ConnectAsync(EndPoint).WaitAsync(timeout);
                return true;
            }
            catch (SocketException)
            {
                await Task.Delay(50);
            }
        }

        return false;
    }
}
