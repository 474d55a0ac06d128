using HeaderFraming.AspNetCore.Tests.Infrastructure;
using HeaderFraming.Codecs;
using HeaderFraming.Serialization;
using HeaderFraming.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Testing;

namespace HeaderFraming.AspNetCore.Tests;

/// <summary>host.StopAsync: the frames a connection has received are delivered, then the handlers return by themselves,
/// long before the host's shutdown timeout would make Kestrel abort them.</summary>
public sealed class GracefulShutdownTests
{
    private const int Frames = 50;

    /// <summary>Long enough that an abort by Kestrel (which would show as a reset, not a local close) cannot be what ended
    /// the connections in this test; the test itself waits at most this.</summary>
    private static readonly TimeSpan s_shutdownTimeout = TimeSpan.FromSeconds(60);

    /// <param name="restWhileBusy">Whether frames 1 to 49 are sent only once the handler is busy with frame 0, so that
    /// they are in the connection's pipe, not in the buffer of its last read, when the stop comes (a full CI run once lost
    /// them so: "the server read 1 frames (1090 of 1090 bytes received)").</param>
    /// <param name="trailer">Whether every frame ends with "\r\n" (a <see cref="TrailerCodec"/>): bytes that no frame's
    /// length counts, which the drain once took for a frame still arriving (it then spun through all its turns).</param>
    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public async Task StopAsyncDeliversTheFramesAlreadyReceivedAndTheHandlersReturnWithinTheShutdownTimeout(bool restWhileBusy, bool trailer)
    {
        IFrameCodec codec = trailer ? TrailerCodec.Create(AsciiDecimalCodec.Default, "\r\n"u8) : AsciiDecimalCodec.Default;
        await using FramedServer server = await FramedServer.StartAsync<GatedEchoHandler>(codec, s =>
        {
            s.ShutdownTimeout = s_shutdownTimeout;
            s.Services = services => services.AddSingleton<ConnectionRecorder>().AddSingleton<Gate>();
        });
        var recorder = server.Services.GetRequiredService<ConnectionRecorder>();
        var gate = server.Services.GetRequiredService<Gate>();

        await using FramedConnection busy = await FramedConnection.ConnectAsync("127.0.0.1", server.Port, codec);
        await using FramedConnection idle = await FramedConnection.ConnectAsync("127.0.0.1", server.Port, codec);
        long wireBytes = 0;
        FramedConnectionContext? busyContext = null;
        for (int i = 0; i < Frames; i++)
        {
            string message = $"in flight {i}";
            wireBytes += 10 + message.Length + (trailer ? 2 : 0);
            await busy.SendAsync(message, Utf8TextSerializer.Instance);
            if (i == 0 && restWhileBusy)
            {
                busyContext = await gate.FirstFrame.Task.WaitAsync(s_shutdownTimeout);
            }
        }

        // The handler is busy with the first frame while the other 49 have arrived; then the host is told to stop.
        busyContext ??= await gate.FirstFrame.Task.WaitAsync(s_shutdownTimeout);
        await Poll.UntilAsync(() => busyContext.Connection.BytesReceived == wireBytes, s_shutdownTimeout, () => $"the server received every frame ({busyContext.Connection.BytesReceived} of {wireBytes} bytes)");
        Task stopping = server.StopAsync();
        await Poll.UntilAsync(() => busyContext.ShutdownRequested.IsCancellationRequested, s_shutdownTimeout, () => "Kestrel asked the connection to close");
        Assert.False(stopping.IsCompleted, "the host stopped while a handler was still busy");
        gate.Release.SetResult();

        // Every frame received before the stop is answered, in order; then the server closes the connection.
        for (int i = 0; i < Frames; i++)
        {
            FrameReadResult echo = await busy.ReadFrameAsync().AsTask().WaitAsync(s_shutdownTimeout);
            Assert.True(echo.HasFrame, $"echo {i} of {Frames} did not come: the server read {busyContext.Connection.FramesReceived} frames ({busyContext.Connection.BytesReceived} of {wireBytes} bytes received), sent {busyContext.Connection.FramesSent}, ended {busyContext.ShutdownReason}");
            Assert.Equal($"IN FLIGHT {i}", Utf8TextSerializer.Instance.Deserialize(echo.Frame.Payload));
        }

        Assert.True((await busy.ReadFrameAsync().AsTask().WaitAsync(s_shutdownTimeout)).IsCompleted, "the busy connection was not closed after its frames");
        Assert.True((await idle.ReadFrameAsync().AsTask().WaitAsync(s_shutdownTimeout)).IsCompleted, "the idle connection was not closed");
        await stopping.WaitAsync(s_shutdownTimeout);

        // Both handlers returned on their own: the server closed them (a local close), Kestrel did not abort them.
        Assert.Equal(2, recorder.Disconnected.Count);
        Assert.All(recorder.Disconnected, d =>
        {
            Assert.Equal(ConnectionShutdownReason.LocalClose, d.Reason);
            Assert.Null(d.Error);
        });
        Assert.Equal(2, server.Logs.GetSnapshot().Count(r => r.Id.Name == "ShutdownRequested"));

        // The drain accounts for every byte received: the busy connection's 49 frames were delivered by it (restWhileBusy)
        // or before it, and nothing was dropped as a frame cut short.
        FakeLogRecord drained = Assert.Single(server.Logs.GetSnapshot(), r => r.Id.Name == "ShutdownDrained" && r.GetStructuredStateValue("ConnectionId") == busyContext.ConnectionId);
        Assert.Equal("0", drained.GetStructuredStateValue("BytesDropped"));
        Assert.Equal(wireBytes, busyContext.Connection.Position);
    }

    public sealed class Gate
    {
        public TaskCompletionSource<FramedConnectionContext> FirstFrame { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>Echoes text upper-cased; the first frame of all waits for the test's gate.</summary>
    public sealed class GatedEchoHandler(ConnectionRecorder recorder, Gate gate) : FramedConnectionHandler<string>(Utf8TextSerializer.Instance)
    {
        protected override ValueTask OnConnectedAsync(FramedConnectionContext context)
        {
            recorder.OnConnected(context);
            return default;
        }

        protected override async ValueTask OnMessageAsync(FramedConnectionContext context, string message)
        {
            if (gate.FirstFrame.TrySetResult(context))
            {
                await gate.Release.Task;
            }

            await context.SendAsync(message.ToUpperInvariant(), Serializer);
        }

        protected override ValueTask OnDisconnectedAsync(FramedConnectionContext context, ConnectionShutdownReason reason, Exception? error)
        {
            recorder.OnDisconnected(context, reason, error);
            return default;
        }
    }
}
