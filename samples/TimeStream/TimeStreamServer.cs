using System.Globalization;
using System.Net;
using System.Net.Sockets;
using HeaderFraming;
using HeaderFraming.Codecs;
using HeaderFraming.Serialization;

namespace TimeStream;

/// <summary>
/// The seed tutorial's streaming server on HeaderFraming: each client gets "Welcome to the server!" on connect, then
/// "The time is &lt;Unix time&gt;" every interval — all clients concurrently.
/// </summary>
public sealed class TimeStreamServer : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly TimeSpan _interval;
    private readonly TextWriter _log;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _clients = new();
    private readonly object _lock = new();
    private Task _acceptLoop = Task.CompletedTask;

    private TimeStreamServer(IPAddress address, int port, TimeSpan interval, TextWriter log)
    {
        _listener = new TcpListener(address, port);
        _interval = interval;
        _log = log;
    }

    /// <summary>The port the server listens on (useful when started on port 0).</summary>
    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>How many messages the server has sent, all clients together.</summary>
    public int MessagesSent => Volatile.Read(ref _messagesSent);

    private int _messagesSent;

    public static TimeStreamServer Start(IPAddress address, int port, TimeSpan interval, TextWriter log)
    {
        var server = new TimeStreamServer(address, port, interval, log);
        server._listener.Start();
        server._acceptLoop = server.AcceptLoopAsync();
        return server;
    }

    /// <summary>The tutorial's time message: Unix time in seconds with a fractional part, as Python's <c>time.time()</c> prints it.</summary>
    public static string TimeMessage(DateTimeOffset now)
    {
        double seconds = (now - DateTimeOffset.UnixEpoch).TotalSeconds;
        string text = seconds.ToString("R", CultureInfo.InvariantCulture);
        return "The time is " + (text.Contains('.', StringComparison.Ordinal) ? text : text + ".0");
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        try
        {
            await _acceptLoop.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }

        Task[] clients;
        lock (_lock)
        {
            clients = _clients.ToArray();
        }

        await Task.WhenAll(clients).ConfigureAwait(false);
        _stop.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket = await _listener.AcceptSocketAsync(_stop.Token).ConfigureAwait(false);
            socket.NoDelay = true;
            _log.WriteLine($"Connection from {socket.RemoteEndPoint} has been established.");
            lock (_lock)
            {
                _clients.Add(ServeAsync(socket));
            }
        }
    }

    private async Task ServeAsync(Socket socket)
    {
        EndPoint? remote = socket.RemoteEndPoint;
        await using FramedConnection connection = FramedConnection.Create(socket, AsciiDecimalCodec.Default);
        try
        {
            await connection.SendAsync("Welcome to the server!", Utf8TextSerializer.Instance, _stop.Token).ConfigureAwait(false);
            Interlocked.Increment(ref _messagesSent);
            using var timer = new PeriodicTimer(_interval);
            while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false))
            {
                await connection.SendAsync(TimeMessage(DateTimeOffset.UtcNow), Utf8TextSerializer.Instance, _stop.Token).ConfigureAwait(false);
                Interlocked.Increment(ref _messagesSent);
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (IOException ex)
        {
            _log.WriteLine($"Connection from {remote} closed: {ex.Message}");
        }
    }
}
