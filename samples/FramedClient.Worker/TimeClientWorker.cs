using System.Net.Sockets;
using HeaderFraming;
using HeaderFraming.Codecs;
using HeaderFraming.Serialization;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FramedClient.Worker;

/// <summary>
/// Connects to the time server, logs each message, and when the connection ends (the server stopped, the network failed,
/// a frame was bad) or cannot be made, waits and tries again: the wait starts at InitialReconnectDelay, doubles after each
/// attempt that did not get a connection (with up to 20 % jitter, so that many workers do not reconnect in step), is capped at
/// MaxReconnectDelay and starts over once a connection has been made. Stops when the host stops.
/// </summary>
public sealed partial class TimeClientWorker(IOptions<TimeClientOptions> options, ILogger<TimeClientWorker> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        TimeClientOptions settings = options.Value;
        TimeSpan delay = settings.InitialReconnectDelay;
        int connections = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using FramedConnection connection = await FramedConnection.ConnectAsync(settings.Host, settings.Port, AsciiDecimalCodec.Default, cancellationToken: stoppingToken);
                connections++;
                delay = settings.InitialReconnectDelay;
                LogConnected(settings.Host, settings.Port, connections);
                await foreach (string message in connection.ReadAllAsync(Utf8TextSerializer.Instance, stoppingToken))
                {
                    LogReceived(message);
                }

                LogDisconnected(connection.ShutdownReason);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is SocketException or IOException or FrameException)
            {
                LogConnectionFailed(settings.Host, settings.Port, ex.Message);
            }

            TimeSpan wait = delay * (1 + (Random.Shared.NextDouble() * 0.2));
            LogReconnecting(wait.TotalMilliseconds);
            try
            {
                await Task.Delay(wait, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, settings.MaxReconnectDelay.Ticks));
        }
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Connected to {Host}:{Port} (connection {Connections}).")]
    private partial void LogConnected(string host, int port, int connections);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Received: {Message}")]
    private partial void LogReceived(string message);

    [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "Disconnected: {Reason}.")]
    private partial void LogDisconnected(ConnectionShutdownReason reason);

    [LoggerMessage(EventId = 4, Level = LogLevel.Warning, Message = "Could not stay connected to {Host}:{Port}: {Problem}")]
    private partial void LogConnectionFailed(string host, int port, string problem);

    [LoggerMessage(EventId = 5, Level = LogLevel.Information, Message = "Reconnecting in {DelayMs:0} ms.")]
    private partial void LogReconnecting(double delayMs);
}
