using System.Net;
using System.Net.Sockets;
using System.Text;
using HeaderFraming.AspNetCore.Tests.Infrastructure;
using HeaderFraming.Codecs;
using HeaderFraming.Serialization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;

namespace HeaderFraming.AspNetCore.Tests;

/// <summary>A browser or curl pointed at the framed endpoint: a typed, logged error for it, no harm to anyone else.</summary>
public sealed class HttpPeerTests
{
    private static readonly TimeSpan s_limit = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task APeerThatSpeaksHttpGetsATypedLoggedErrorAndTheServerKeepsServingTheOthers()
    {
        await using FramedServer server = await FramedServer.StartAsync<UpperCaseHandler>(AsciiDecimalCodec.Default, s => s.Services = HostingTests.AddRecorder);
        using var errors = new MetricCollector<long>(server.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), FramingServerMeter.Name, "headerframing.server.errors");
        var recorder = server.Services.GetRequiredService<ConnectionRecorder>();
        await using FramedConnection before = await FramedConnection.ConnectAsync("127.0.0.1", server.Port, AsciiDecimalCodec.Default);
        await before.SendAsync("first", Utf8TextSerializer.Instance);
        Assert.Equal("FIRST", await before.ReadAsync(Utf8TextSerializer.Instance).AsTask().WaitAsync(s_limit));

        using (var http = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            await http.ConnectAsync(IPAddress.Loopback, server.Port);
            await http.SendAsync(Encoding.ASCII.GetBytes($"GET / HTTP/1.1\r\nHost: 127.0.0.1:{server.Port}\r\nAccept: */*\r\n\r\n"));

            // The server answers nothing and closes: an end of stream, or a reset since the rest of the request was unread.
            var buffer = new byte[1024];
            int received;
            try
            {
                received = await http.ReceiveAsync(buffer.AsMemory(), SocketFlags.None).AsTask().WaitAsync(s_limit);
            }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset)
            {
                received = 0;
            }

            Assert.Equal(0, received);
        }

        var disconnect = await recorder.WaitForDisconnectAsync(d => d.Error is not null);
        Assert.Equal(ConnectionShutdownReason.ProtocolError, disconnect.Reason);
        var malformed = Assert.IsType<FrameFormatException>(disconnect.Error);
        Assert.Contains("look like HTTP", malformed.Message, StringComparison.Ordinal);

        var logged = await server.WaitForLogAsync(r => r.Id.Name == "FramingError");
        Assert.Equal(LogLevel.Information, logged.Level);
        Assert.Same(malformed, logged.Exception);
        Assert.Equal("Malformed", logged.GetStructuredStateValue("ErrorKind"));
        Assert.Contains("look like HTTP", logged.Message, StringComparison.Ordinal);
        Assert.Equal("test", logged.GetStructuredStateValue("Endpoint"));
        var counted = Assert.Single(errors.GetMeasurementSnapshot());
        Assert.Equal(("test", "malformed"), (counted.Tags["endpoint"] as string, counted.Tags["error.type"] as string));

        // The connection that was open all along, and a new one, are served as before.
        await before.SendAsync("still", Utf8TextSerializer.Instance);
        Assert.Equal("STILL", await before.ReadAsync(Utf8TextSerializer.Instance).AsTask().WaitAsync(s_limit));
        await using FramedConnection after = await FramedConnection.ConnectAsync("127.0.0.1", server.Port, AsciiDecimalCodec.Default);
        await after.SendAsync("after", Utf8TextSerializer.Instance);
        Assert.Equal("AFTER", await after.ReadAsync(Utf8TextSerializer.Instance).AsTask().WaitAsync(s_limit));
    }
}
