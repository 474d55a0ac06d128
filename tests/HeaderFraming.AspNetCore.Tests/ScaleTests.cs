using System.Buffers;
using HeaderFraming.AspNetCore.Tests.Infrastructure;
using HeaderFraming.Codecs;
using HeaderFraming.Testing;
using HeaderFraming.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace HeaderFraming.AspNetCore.Tests;

/// <summary>Many concurrent connections through the handler, and a peer that speaks HTTP to the framed endpoint.</summary>
[Collection(nameof(ScaleTests))]
public sealed class ScaleTests
{
    private const int Connections = 1000;
    private const int FramesPerConnection = 10;

    /// <summary>Hang detection only.</summary>
    private static readonly TimeSpan s_limit = TimeSpan.FromMinutes(3);

    [Fact]
    public async Task AThousandConcurrentConnectionsGetEveryChecksummedFrameBackWholeAndInOrder()
    {
        using var timeout = new CancellationTokenSource(s_limit);
        await using FramedServer server = await FramedServer.StartAsync<EchoHandler>(BinaryLengthCodec.UInt32BigEndian, s => s.Services = HostingTests.AddRecorder);
        var recorder = server.Services.GetRequiredService<ConnectionRecorder>();
        var clients = new FramedConnection[Connections];
        try
        {
            // All connected first (64 connects at a time, within Kestrel's accept backlog), so that all are open at once.
            using var connecting = new SemaphoreSlim(64);
            await Task.WhenAll(Enumerable.Range(0, Connections).Select(async c =>
            {
                await connecting.WaitAsync(timeout.Token);
                try
                {
                    clients[c] = await FramedConnection.ConnectAsync("127.0.0.1", server.Port, BinaryLengthCodec.UInt32BigEndian, cancellationToken: timeout.Token);
                }
                finally
                {
                    connecting.Release();
                }
            }));

            // Each client pipelines its frames (sends without waiting for answers), then checks every answer.
            long[] verified = await Task.WhenAll(clients.Select(async (client, c) =>
            {
                var random = new Random(c);
                byte[][] sent = Enumerable.Range(0, FramesPerConnection).Select(i => Checksummed.Create(c, i, random.Next(0, 3000), random)).ToArray();
                Task sending = Task.WhenAll(sent.Select(payload => client.SendAsync(payload, timeout.Token).AsTask()));
                long count = 0;
                for (int i = 0; i < FramesPerConnection; i++)
                {
                    FrameReadResult echo = await client.ReadFrameAsync(timeout.Token);
                    Assert.True(echo.HasFrame, $"connection {c} ended after {i} echoes");
                    Assert.Equal((c, i), Checksummed.Verify(echo.Frame.Payload));
                    Assert.True(echo.Frame.Payload.ToArray().AsSpan().SequenceEqual(sent[i]), $"connection {c}, frame {i}: the echo differs from what was sent");
                    count++;
                }

                await sending;
                return count;
            }));

            Assert.Equal((long)Connections * FramesPerConnection, verified.Sum());
            Assert.Equal(Connections, recorder.MaxActive);
        }
        finally
        {
            await Task.WhenAll(clients.Where(c => c is not null).Select(c => c.DisposeAsync().AsTask()));
        }

        // Every server-side connection ended cleanly, as a peer close, and every frame went through the handler.
        await Poll.UntilAsync(() => recorder.Disconnected.Count >= Connections, s_limit, () => $"every server-side connection ended ({recorder.Disconnected.Count} of {Connections} did)");
        Assert.Equal(Connections, recorder.Disconnected.Count);
        Assert.All(recorder.Disconnected, d => Assert.Equal(ConnectionShutdownReason.PeerClosed, d.Reason));
        var closedLogs = server.Logs.GetSnapshot().Where(r => r.Id.Name == "ConnectionClosed").ToArray();
        Assert.Equal(Connections, closedLogs.Length);
        Assert.Equal((long)Connections * FramesPerConnection, closedLogs.Sum(r => long.Parse(r.GetStructuredStateValue("FramesReceived")!, System.Globalization.CultureInfo.InvariantCulture)));
    }
}
