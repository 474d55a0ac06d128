using System.Buffers;
using System.Net;
using System.Net.Sockets;
using HeaderFraming.AspNetCore.Internal;
using HeaderFraming.AspNetCore.Tests.Infrastructure;
using HeaderFraming.Codecs;
using HeaderFraming.Serialization;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace HeaderFraming.AspNetCore.Tests;

/// <summary>The handler's lifecycle, its logs and metrics, and the options' registration, on a real Kestrel.</summary>
public sealed class HostingTests
{
    private static readonly TimeSpan s_limit = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task ATypedHandlerAnswersEachMessageAndReportsTheConnectionsLifecycleInLogsAndMetrics()
    {
        await using FramedServer server = await FramedServer.StartAsync<UpperCaseHandler>(AsciiDecimalCodec.Default, s => s.Services = AddRecorder);
        var meters = server.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();
        using var active = new MetricCollector<long>(meters, FramingServerMeter.Name, "headerframing.server.active_connections");
        using var duration = new MetricCollector<double>(meters, FramingServerMeter.Name, "headerframing.server.connection.duration");
        using var framesReceived = new MetricCollector<long>(meters, FramingServerMeter.Name, "headerframing.server.frames.received");
        var recorder = server.Services.GetRequiredService<ConnectionRecorder>();

        EndPoint clientEnd;
        await using (FramedConnection client = await FramedConnection.ConnectAsync("127.0.0.1", server.Port, AsciiDecimalCodec.Default))
        {
            foreach (string question in new[] { "hello", "", "héllo wörld ✓", new string('x', 100_000) })
            {
                await client.SendAsync(question, Utf8TextSerializer.Instance);
                Assert.Equal(question.ToUpperInvariant(), await client.ReadAsync(Utf8TextSerializer.Instance).AsTask().WaitAsync(s_limit));
            }

            clientEnd = Assert.Single(recorder.Connected).Remote!;
        }

        var disconnect = await recorder.WaitForDisconnectAsync(_ => true);
        Assert.Equal(ConnectionShutdownReason.PeerClosed, disconnect.Reason);
        Assert.Null(disconnect.Error);
        var connected = Assert.Single(recorder.Connected);
        Assert.Equal(connected.ConnectionId, disconnect.ConnectionId);
        Assert.False(string.IsNullOrEmpty(connected.ConnectionId));
        Assert.Equal("test", connected.Endpoint);
        Assert.Equal(IPAddress.Loopback, ((IPEndPoint)clientEnd).Address);

        var opened = await server.WaitForLogAsync(r => r.Id.Name == "ConnectionOpened");
        Assert.Equal(LogLevel.Debug, opened.Level);
        Assert.Equal(Log.Category, opened.Category);
        Assert.Equal(connected.ConnectionId, opened.GetStructuredStateValue("ConnectionId"));
        Assert.Equal("test", opened.GetStructuredStateValue("Endpoint"));
        var closed = await server.WaitForLogAsync(r => r.Id.Name == "ConnectionClosed");
        Assert.Equal("PeerClosed", closed.GetStructuredStateValue("ShutdownReason"));
        Assert.Equal("4", closed.GetStructuredStateValue("FramesReceived"));

        // Up by one and down by one, both tagged with the endpoint; the duration tagged with the reason too.
        Assert.Equal(new long[] { 1, -1 }, active.GetMeasurementSnapshot().Where(m => m.Tags["endpoint"] as string == "test").Select(m => m.Value));
        var lifetime = Assert.Single(duration.GetMeasurementSnapshot());
        Assert.Equal("test", lifetime.Tags["endpoint"]);
        Assert.Equal("peer_closed", lifetime.Tags["headerframing.shutdown_reason"]);
        Assert.True(lifetime.Value > 0);
        Assert.Equal(4, Assert.Single(framesReceived.GetMeasurementSnapshot()).Value);
    }

    [Fact]
    public async Task AnEndpointWithoutANameIsTaggedWithItsAddressAndUsesTheUnnamedOptions()
    {
        await using FramedServer server = await FramedServer.StartAsync<EchoHandler>(AsciiDecimalCodec.Default, s =>
        {
            s.EndpointName = null;
            s.Services = services =>
            {
                AddRecorder(services);
                services.Configure<FramedConnectionOptions>(o => o.Reader.MaxFrameLength = 4);
            };
        });

        await using FramedConnection client = await FramedConnection.ConnectAsync("127.0.0.1", server.Port, AsciiDecimalCodec.Default);
        await client.SendAsync("12345"u8.ToArray());
        var disconnect = await server.Services.GetRequiredService<ConnectionRecorder>().WaitForDisconnectAsync(_ => true);
        Assert.IsType<FrameTooLargeException>(disconnect.Error);
        var connected = Assert.Single(server.Services.GetRequiredService<ConnectionRecorder>().Connected);
        Assert.Equal($"127.0.0.1:{server.Port}", connected.Endpoint);
    }

    [Fact]
    public async Task OptionsBoundFromConfigurationApplyToTheirEndpoint()
    {
        await using FramedServer server = await FramedServer.StartAsync<EchoHandler>(AsciiDecimalCodec.Default, s =>
        {
            s.Services = AddRecorder;
            s.Configuration["HeaderFraming:Endpoints:test:Reader:MaxFrameLength"] = "16";
            s.Configuration["HeaderFraming:Endpoints:other:Reader:MaxFrameLength"] = "1";
        });
        Assert.Equal(16, server.Services.GetRequiredService<IOptionsMonitor<FramedConnectionOptions>>().Get("test").Reader.MaxFrameLength);

        await using FramedConnection client = await FramedConnection.ConnectAsync("127.0.0.1", server.Port, AsciiDecimalCodec.Default);
        byte[] sixteen = new byte[16];
        await client.SendAsync(sixteen);
        FrameReadResult echo = await client.ReadFrameAsync().AsTask().WaitAsync(s_limit);
        Assert.Equal(16, echo.Frame.PayloadLength);

        await client.SendAsync(new byte[17]);
        var disconnect = await server.Services.GetRequiredService<ConnectionRecorder>().WaitForDisconnectAsync(_ => true);
        Assert.Equal(ConnectionShutdownReason.ProtocolError, disconnect.Reason);
        var tooLarge = Assert.IsType<FrameTooLargeException>(disconnect.Error);
        Assert.Equal(16, tooLarge.MaxFrameLength);
        var logged = await server.WaitForLogAsync(r => r.Id.Name == "FramingError");
        Assert.Equal("TooLarge", logged.GetStructuredStateValue("ErrorKind"));
        Assert.Same(tooLarge, logged.Exception);
    }

    [Theory]
    [InlineData("SegmentSize", "100", "SegmentSize must be 4 KiB to 16 MiB")]
    [InlineData("SegmentSize", "big", "big")]
    [InlineData("Reader:IdleTimeout", "-00:00:05", "A timeout is positive")]
    [InlineData("SlowConsumerThreshold", "-00:00:05", "SlowConsumerThreshold is -00:00:05")]
    public async Task ABadValueInConfigurationFailsTheStartWithAMessageThatNamesTheEndpointAndTheSection(string key, string value, string expected)
    {
        Exception failure = await FramedServer.StartFailsAsync<EchoHandler>(AsciiDecimalCodec.Default, s =>
        {
            s.Services = AddRecorder;
            s.Configuration["HeaderFraming:Endpoints:test:" + key] = value;
        });

        var invalid = Assert.IsType<OptionsValidationException>(failure);
        Assert.Equal("test", invalid.OptionsName);
        Assert.Contains("HeaderFraming endpoint 'test'", invalid.Message, StringComparison.Ordinal);
        Assert.Contains(expected, invalid.Message, StringComparison.Ordinal);
        if (key != "SlowConsumerThreshold")
        {
            Assert.Contains("HeaderFraming:Endpoints:test", invalid.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task UseFramingWithoutAddHeaderFramingFailsTheStartAndSaysWhatToCall()
    {
        Exception failure = await FramedServer.StartFailsAsync<EchoHandler>(AsciiDecimalCodec.Default, s =>
        {
            s.AddHeaderFraming = false;
            s.Services = AddRecorder;
        });

        var missing = Assert.IsType<InvalidOperationException>(failure);
        Assert.Contains("AddHeaderFraming()", missing.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AFailingHandlerIsLoggedAndClosesOnlyItsOwnConnection()
    {
        await using FramedServer server = await FramedServer.StartAsync<UpperCaseHandler>(AsciiDecimalCodec.Default, s => s.Services = AddRecorder);
        await using FramedConnection healthy = await FramedConnection.ConnectAsync("127.0.0.1", server.Port, AsciiDecimalCodec.Default);
        await using FramedConnection failing = await FramedConnection.ConnectAsync("127.0.0.1", server.Port, AsciiDecimalCodec.Default);

        await failing.SendAsync("throw", Utf8TextSerializer.Instance);
        FrameReadResult end = await failing.ReadFrameAsync().AsTask().WaitAsync(s_limit);
        Assert.True(end.IsCompleted, "the failing connection should have been closed by the server");

        var logged = await server.WaitForLogAsync(r => r.Id.Name == "HandlerError");
        Assert.Equal(LogLevel.Error, logged.Level);
        Assert.IsType<InvalidOperationException>(logged.Exception);
        var disconnect = await server.Services.GetRequiredService<ConnectionRecorder>().WaitForDisconnectAsync(d => d.Error is InvalidOperationException);
        Assert.Equal(ConnectionShutdownReason.LocalClose, disconnect.Reason);

        await healthy.SendAsync("still here", Utf8TextSerializer.Instance);
        Assert.Equal("STILL HERE", await healthy.ReadAsync(Utf8TextSerializer.Instance).AsTask().WaitAsync(s_limit));
    }

    [Fact]
    public void TheConnectionsUseKestrelsMemoryPoolAndOtherwiseTheEndpointsOptionsUnchanged()
    {
        var options = new FramedConnectionOptions { SegmentSize = 8192, MaxBufferedSendBytes = 12345, MaxBufferedReceiveBytes = 54321, WaitForDataBeforeAllocatingBuffer = false };
        options.Reader.MaxFrameLength = 77;
        options.Reader.IdleTimeout = TimeSpan.FromSeconds(7);
        options.Reader.FrameTimeout = TimeSpan.FromSeconds(3);
        options.Reader.MinFrameDataRate = 99;
        options.Reader.MinFrameDataRateGracePeriod = TimeSpan.FromSeconds(2);
        var connection = new DefaultConnectionContext("c1");
        var kestrelPool = new TestPool();
        connection.Features.Set<IMemoryPoolFeature>(new PoolFeature(kestrelPool));

        FramedConnectionOptions used = FramedConnectionOptionsCopy.WithTransportPool(options, connection);

        Assert.NotSame(options, used);
        Assert.Null(options.MemoryPool);
        Assert.Same(kestrelPool, used.MemoryPool);
        Assert.Equal((8192, 12345L, 54321L, false), (used.SegmentSize, used.MaxBufferedSendBytes, used.MaxBufferedReceiveBytes, used.WaitForDataBeforeAllocatingBuffer));
        Assert.Equal((77L, TimeSpan.FromSeconds(7), TimeSpan.FromSeconds(3), 99L, TimeSpan.FromSeconds(2)),
            (used.Reader.MaxFrameLength, used.Reader.IdleTimeout, used.Reader.FrameTimeout, used.Reader.MinFrameDataRate, used.Reader.MinFrameDataRateGracePeriod));

        // A pool the application chose wins over Kestrel's.
        var chosen = new TestPool();
        options.MemoryPool = chosen;
        Assert.Same(options, FramedConnectionOptionsCopy.WithTransportPool(options, connection));
    }

    internal static void AddRecorder(IServiceCollection services) => services.AddSingleton<ConnectionRecorder>();

    private sealed class PoolFeature(MemoryPool<byte> pool) : IMemoryPoolFeature
    {
        public MemoryPool<byte> MemoryPool => pool;
    }

    private sealed class TestPool : MemoryPool<byte>
    {
        public override int MaxBufferSize => 4096;

        public override IMemoryOwner<byte> Rent(int minBufferSize = -1) => MemoryPool<byte>.Shared.Rent(minBufferSize);

        protected override void Dispose(bool disposing)
        {
        }
    }
}
