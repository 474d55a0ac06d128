using System.Net;
using HeaderFraming.AspNetCore.Tests.Infrastructure;
using HeaderFraming.Codecs;
using HeaderFraming.Serialization;
using Microsoft.AspNetCore.Connections;

namespace HeaderFraming.AspNetCore.Tests;

/// <summary><see cref="FramedConnectionContext.Create"/> in a Kestrel <see cref="ConnectionHandler"/> of the application's
/// own (no UseFraming, no AddHeaderFraming): framing, the connection's identity and its lifetime.</summary>
public sealed class OwnConnectionHandlerTests
{
    private static readonly TimeSpan s_limit = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task FramedConnectionContextCreateFramesAKestrelConnectionAndFiresClosedWhenThePeerLeaves()
    {
        var seen = new TaskCompletionSource<(string Id, string Endpoint, EndPoint? Remote, ConnectionShutdownReason Reason, bool ClosedFired)>(TaskCreationOptions.RunContinuationsAsynchronously);
        OwnHandler.Seen = seen;
        await using FramedServer server = await FramedServer.StartAsync<EchoHandler>(AsciiDecimalCodec.Default, s =>
        {
            s.AddHeaderFraming = false;
            s.InsteadOfFraming = listen => listen.UseConnectionHandler<OwnHandler>();
        });

        await using (FramedConnection client = await FramedConnection.ConnectAsync("127.0.0.1", server.Port, AsciiDecimalCodec.Default))
        {
            await client.SendAsync("ping", Utf8TextSerializer.Instance);
            Assert.Equal("pong", await client.ReadAsync(Utf8TextSerializer.Instance).AsTask().WaitAsync(s_limit));
        }

        var result = await seen.Task.WaitAsync(s_limit);
        Assert.False(string.IsNullOrEmpty(result.Id));
        Assert.Equal($"127.0.0.1:{server.Port}", result.Endpoint);
        Assert.Equal(IPAddress.Loopback, ((IPEndPoint)result.Remote!).Address);
        Assert.Equal(ConnectionShutdownReason.PeerClosed, result.Reason);
        Assert.True(result.ClosedFired, "Closed did not fire when the peer left");
    }

    public sealed class OwnHandler : ConnectionHandler
    {
        public static TaskCompletionSource<(string Id, string Endpoint, EndPoint? Remote, ConnectionShutdownReason Reason, bool ClosedFired)>? Seen { get; set; }

        public override async Task OnConnectedAsync(ConnectionContext connection)
        {
            await using FramedConnectionContext context = FramedConnectionContext.Create(connection, AsciiDecimalCodec.Default);
            await foreach (string message in context.Connection.ReadAllAsync(Utf8TextSerializer.Instance))
            {
                await context.SendAsync(message == "ping" ? "pong" : message, Utf8TextSerializer.Instance);
            }

            // Closed is cancelled on the thread pool, so it may fire just after the reads end: wait for it (bounded).
            var closed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            using (context.Closed.Register(() => closed.TrySetResult()))
            {
                try
                {
                    // WaitAsync's timer goes with the wait; a Task.Delay would be left running for its 10 s.
                    await closed.Task.WaitAsync(TimeSpan.FromSeconds(10));
                }
                catch (TimeoutException)
                {
                    // Reported below: ClosedFired false.
                }
            }

            Seen?.TrySetResult((context.ConnectionId, context.EndpointName, context.RemoteEndPoint, context.ShutdownReason, closed.Task.IsCompleted));
        }
    }
}
