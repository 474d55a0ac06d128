using System.Collections.Concurrent;
using System.Globalization;
using HeaderFraming;
using HeaderFraming.AspNetCore;
using HeaderFraming.Codecs;
using HeaderFraming.Serialization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

// The tutorial's time server on Kestrel: "Welcome to the server!" to each client, then "The time is <Unix time>" to all
// of them every few seconds, in the tutorial's 10-byte ASCII header. Options come from appsettings.json's "HeaderFraming"
// section (per endpoint: "time"), the port and interval from "TimeServer" (or --TimeServer:Port=1243 on the command line).
var builder = WebApplication.CreateBuilder(args);
builder.Services.AddHeaderFraming(builder.Configuration.GetSection("HeaderFraming"));
builder.Services.AddSingleton<TimeClients>();
builder.Services.AddHostedService<TimeBroadcaster>();
builder.WebHost.ConfigureKestrel(kestrel =>
{
    int port = builder.Configuration.GetValue("TimeServer:Port", 1243);
    kestrel.ListenLocalhost(port, listen => listen.UseFraming<TimeHandler>(AsciiDecimalCodec.Default, "time"));
});

var app = builder.Build();
app.Run();

/// <summary>The clients connected now, by connection id.</summary>
sealed class TimeClients : ConcurrentDictionary<string, FramedConnectionContext>;

/// <summary>Greets each client and keeps it in <see cref="TimeClients"/> while it is connected.</summary>
sealed class TimeHandler(TimeClients clients, ILogger<TimeHandler> logger) : FramedConnectionHandler
{
    protected override async ValueTask OnConnectedAsync(FramedConnectionContext context)
    {
        logger.LogInformation("Connection from {RemoteEndPoint} has been established.", context.RemoteEndPoint);
        await context.SendAsync("Welcome to the server!", Utf8TextSerializer.Instance);
        clients[context.ConnectionId] = context;
    }

    // The tutorial's clients send nothing; whatever a client sends is read and ignored.
    protected override ValueTask OnFrameAsync(FramedConnectionContext context, Frame frame) => default;

    protected override ValueTask OnDisconnectedAsync(FramedConnectionContext context, ConnectionShutdownReason reason, Exception? error)
    {
        clients.TryRemove(context.ConnectionId, out _);
        logger.LogInformation("Connection from {RemoteEndPoint} closed: {Reason}.", context.RemoteEndPoint, reason);
        return default;
    }
}

/// <summary>Sends the time to every connected client, every TimeServer:Interval (default 3 seconds).</summary>
sealed class TimeBroadcaster(TimeClients clients, IConfiguration configuration) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // A pause after each broadcast, as the tutorial's time.sleep(3): a timer that catches up on a missed tick would send
        // two messages back to back, which the tutorial's recv(16) client cannot split.
        TimeSpan interval = configuration.GetValue("TimeServer:Interval", TimeSpan.FromSeconds(3));
        ArgumentOutOfRangeException.ThrowIfLessThan(interval, TimeSpan.FromMilliseconds(1)); // a shorter delay would not wait at all
        while (true)
        {
            await Task.Delay(interval, stoppingToken);
            // Unix time in seconds with a fraction, as Python's time.time() prints it.
            double now = (DateTimeOffset.UtcNow - DateTimeOffset.UnixEpoch).TotalSeconds;
            string message = "The time is " + now.ToString("0.0######", CultureInfo.InvariantCulture);
            await Task.WhenAll(clients.Values.Select(async client =>
            {
                try
                {
                    await client.SendAsync(message, Utf8TextSerializer.Instance, stoppingToken);
                }
                catch (Exception ex) when (ex is IOException or ObjectDisposedException)
                {
                    clients.TryRemove(client.ConnectionId, out _); // it left; OnDisconnectedAsync says why
                }
            }));
        }
    }
}
