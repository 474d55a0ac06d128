using System.Net;
using System.Net.Sockets;
using HeaderFraming.AspNetCore.Tests.Infrastructure;
using HeaderFraming.Codecs;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace HeaderFraming.AspNetCore.Tests;

/// <summary>A peer that stops reading what the server sends is reported once the send has waited past the threshold, on the
/// host's clock (a FakeTimeProvider here: nothing sleeps).</summary>
public sealed class SlowConsumerTests
{
    private static readonly TimeSpan s_limit = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task APeerThatDoesNotReadIsLoggedAsASlowConsumerOnceTheSendHasWaitedPastTheThreshold()
    {
        var clock = new FakeTimeProvider();
        await using FramedServer server = await FramedServer.StartAsync<FloodHandler>(BinaryLengthCodec.UInt32BigEndian, s =>
        {
            s.Services = services => services.AddSingleton<TimeProvider>(clock).AddSingleton<FloodHandler.Signals>();
            s.Configuration["HeaderFraming:Endpoints:test:SlowConsumerThreshold"] = "00:00:05";
        });
        using var counted = new MetricCollector<long>(server.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), FramingServerMeter.Name, "headerframing.server.slow_consumers");
        var signals = server.Services.GetRequiredService<FloodHandler.Signals>();

        // A client that connects and never reads: the server's sends fill the socket buffers, then Kestrel's output pipe,
        // and from then on every send waits. Sends that wait only while the socket drains finish before the clock moves.
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
        await client.ConnectAsync(IPAddress.Loopback, server.Port);
        DateTime deadline = DateTime.UtcNow + s_limit;
        while (!server.Logs.GetSnapshot().Any(r => r.Id.Name == "SlowConsumer"))
        {
            Assert.True(DateTime.UtcNow < deadline, "no slow consumer was reported");
            Assert.False(signals.Flooded.Task.IsCompleted, "the handler sent 256 MiB without backpressure");
            clock.Advance(TimeSpan.FromSeconds(1));
            await Task.Delay(10);
        }

        var logged = await server.WaitForLogAsync(r => r.Id.Name == "SlowConsumer");
        Assert.Equal(LogLevel.Warning, logged.Level);
        Assert.Equal("test", logged.GetStructuredStateValue("Endpoint"));
        Assert.Equal("5000", logged.GetStructuredStateValue("ThresholdMs"));
        Assert.True(double.Parse(logged.GetStructuredStateValue("WaitedMs")!, System.Globalization.CultureInfo.InvariantCulture) >= 5000, "reported before the threshold");
        Assert.Equal("test", Assert.Single(counted.GetMeasurementSnapshot()).Tags["endpoint"]);

        // Once per connection, however long the peer goes on not reading.
        clock.Advance(TimeSpan.FromMinutes(1));
        await Task.Delay(100);
        Assert.Single(server.Logs.GetSnapshot(), r => r.Id.Name == "SlowConsumer");
    }

    /// <summary>Sends 64 KiB frames from the moment a client connects until the connection ends (256 MiB at most).</summary>
    public sealed class FloodHandler(FloodHandler.Signals signals) : FramedConnectionHandler
    {
        private static readonly byte[] s_chunk = new byte[64 * 1024];

        protected override ValueTask OnConnectedAsync(FramedConnectionContext context)
        {
            _ = FloodAsync(context);
            return default;
        }

        protected override ValueTask OnFrameAsync(FramedConnectionContext context, Frame frame) => default;

        private async Task FloodAsync(FramedConnectionContext context)
        {
            try
            {
                for (int i = 0; i < 4096; i++)
                {
                    await context.SendAsync(s_chunk, context.Closed);
                }

                signals.Flooded.TrySetResult();
            }
            catch (Exception)
            {
                // The connection ended (the test is over).
            }
        }

        public sealed class Signals
        {
            public TaskCompletionSource Flooded { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }
    }
}
