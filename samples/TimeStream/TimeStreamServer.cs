using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using HeaderFraming;
using HeaderFraming.Codecs;
using HeaderFraming.Serialization;

namespace TimeStream;

/// <summary>
/// The seed tutorial's streaming server on HeaderFraming: each client gets "Welcome to the server!" on connect, then every
/// interval one "The time is &lt;Unix time&gt;" message is sent to all connected clients concurrently.
/// </summary>
public sealed class TimeStreamServer : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly TimeSpan _interval;
    private readonly TextWriter _log;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<FramedConnection, EndPoint?> _clients = new();
    private Task _acceptLoop = Task.CompletedTask;
    private Task _broadcastLoop = Task.CompletedTask;
    private int _messagesSent;

    private TimeStreamServer(IPAddress address, int port, TimeSpan interval, TextWriter log)
    {
        _listener = new TcpListener(address, port);
        _interval = interval;
        _log = TextWriter.Synchronized(log);
    }

    /// <summary>The port the server listens on (useful when started on port 0).</summary>
    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>How many messages the server has sent, all clients together.</summary>
    public int MessagesSent => Volatile.Read(ref _messagesSent);

    public static TimeStreamServer Start(IPAddress address, int port, TimeSpan interval, TextWriter log)
    {
        if (interval < TimeSpan.FromMilliseconds(1))
        {
            throw new ArgumentOutOfRangeException(nameof(interval), interval, "The interval must be 1 ms or more (a shorter delay would not wait at all).");
        }

        var server = new TimeStreamServer(address, port, interval, log);
        server._listener.Start();
        server._acceptLoop = server.AcceptLoopAsync();
        server._broadcastLoop = server.BroadcastLoopAsync();
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
        foreach (Task loop in new[] { _acceptLoop, _broadcastLoop })
        {
            try
            {
                await loop.ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
            }
        }

        await Task.WhenAll(_clients.Keys.Select(c => c.DisposeAsync().AsTask())).ConfigureAwait(false);
        _stop.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket = await _listener.AcceptSocketAsync(_stop.Token).ConfigureAwait(false);
            socket.NoDelay = true;
            EndPoint? remote = socket.RemoteEndPoint;
            _log.WriteLine($"Connection from {remote} has been established.");
            FramedConnection connection = FramedConnection.Create(socket, AsciiDecimalCodec.Default);
            if (await TrySendAsync(connection, remote, "Welcome to the server!").ConfigureAwait(false))
            {
                _clients[connection] = remote;
            }
        }
    }

    private async Task BroadcastLoopAsync()
    {
        // A pause after each broadcast, as the tutorial's time.sleep(3): a timer that catches up on a missed tick would send
        // two messages back to back, which the tutorial's recv(16) client cannot split.
        while (true)
        {
            await Task.Delay(_interval, _stop.Token).ConfigureAwait(false);
            string message = TimeMessage(DateTimeOffset.UtcNow);
            if (_clients.IsEmpty)
            {
                continue;
            }

            // As the seed's server does, print what goes on the wire: the 10-byte header, then the message.
            _log.WriteLine($"{System.Text.Encoding.UTF8.GetByteCount(message),-10}{message}");
            await Task.WhenAll(_clients.Select(async client =>
            {
                if (!await TrySendAsync(client.Key, client.Value, message).ConfigureAwait(false))
                {
                    _clients.TryRemove(client.Key, out _);
                }
            })).ConfigureAwait(false);
        }
    }

    private async Task<bool> TrySendAsync(FramedConnection connection, EndPoint? remote, string message)
    {
        try
        {
            await connection.SendAsync(message, Utf8TextSerializer.Instance, _stop.Token).ConfigureAwait(false);
            Interlocked.Increment(ref _messagesSent);
            return true;
        }
        catch (IOException ex)
        {
            _log.WriteLine($"Connection from {remote} closed: {ex.InnerException?.Message ?? ex.Message}");
            await connection.DisposeAsync().ConfigureAwait(false);
            return false;
        }
    }
}
