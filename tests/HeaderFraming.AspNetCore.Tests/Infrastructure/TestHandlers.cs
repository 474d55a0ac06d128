using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using HeaderFraming.AspNetCore;
using HeaderFraming.Serialization;

namespace HeaderFraming.AspNetCore.Tests.Infrastructure;

/// <summary>What the handlers saw, registered as a singleton in the server's services.</summary>
public sealed class ConnectionRecorder
{
    private int _active;
    private int _maxActive;

    public ConcurrentQueue<(string ConnectionId, EndPoint? Remote, string Endpoint)> Connected { get; } = new();

    /// <summary>The TLS protocol each connection negotiated (<see cref="System.Security.Authentication.SslProtocols.None"/> for plain TCP).</summary>
    public ConcurrentQueue<System.Security.Authentication.SslProtocols> Tls { get; } = new();

    /// <summary>The live contexts, by connection id (removed at disconnect).</summary>
    public ConcurrentDictionary<string, FramedConnectionContext> Live { get; } = new();

    public ConcurrentQueue<(string ConnectionId, ConnectionShutdownReason Reason, Exception? Error)> Disconnected { get; } = new();

    public int MaxActive => Volatile.Read(ref _maxActive);

    public void OnConnected(FramedConnectionContext context)
    {
        Connected.Enqueue((context.ConnectionId, context.RemoteEndPoint, context.EndpointName));
        Tls.Enqueue(context.Features.Get<Microsoft.AspNetCore.Connections.Features.ITlsHandshakeFeature>()?.Protocol ?? System.Security.Authentication.SslProtocols.None);
        Live[context.ConnectionId] = context;
        int active = Interlocked.Increment(ref _active);
        int max;
        while (active > (max = Volatile.Read(ref _maxActive)) && Interlocked.CompareExchange(ref _maxActive, active, max) != max)
        {
        }
    }

    public void OnDisconnected(FramedConnectionContext context, ConnectionShutdownReason reason, Exception? error)
    {
        Interlocked.Decrement(ref _active);
        Live.TryRemove(context.ConnectionId, out _);
        Disconnected.Enqueue((context.ConnectionId, reason, error));
    }

    public async Task<(string ConnectionId, ConnectionShutdownReason Reason, Exception? Error)> WaitForDisconnectAsync(Func<(string ConnectionId, ConnectionShutdownReason Reason, Exception? Error), bool> match, TimeSpan? timeout = null)
    {
        DateTime deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            foreach (var d in Disconnected)
            {
                if (match(d))
                {
                    return d;
                }
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"No matching disconnect among {Disconnected.Count}: " + string.Join(", ", Disconnected.Select(d => d.Reason)));
            }

            await Task.Delay(20);
        }
    }
}

/// <summary>Echoes every frame's payload back as a frame.</summary>
public sealed class EchoHandler(ConnectionRecorder recorder) : FramedConnectionHandler
{
    protected override ValueTask OnConnectedAsync(FramedConnectionContext context)
    {
        recorder.OnConnected(context);
        return default;
    }

    protected override ValueTask OnFrameAsync(FramedConnectionContext context, Frame frame)
        => context.SendAsync(frame.Payload.IsSingleSegment ? frame.Payload.First : frame.Payload.ToArray());

    protected override ValueTask OnDisconnectedAsync(FramedConnectionContext context, ConnectionShutdownReason reason, Exception? error)
    {
        recorder.OnDisconnected(context, reason, error);
        return default;
    }
}

/// <summary>Answers every text message with the same text, upper-cased; a message "throw" makes the hook fail.</summary>
public sealed class UpperCaseHandler(ConnectionRecorder recorder) : FramedConnectionHandler<string>(Utf8TextSerializer.Instance)
{
    protected override ValueTask OnConnectedAsync(FramedConnectionContext context)
    {
        recorder.OnConnected(context);
        return default;
    }

    protected override ValueTask OnMessageAsync(FramedConnectionContext context, string message)
        => message == "throw"
            ? throw new InvalidOperationException("the application's handler failed on purpose")
            : context.SendAsync(message.ToUpperInvariant(), Serializer);

    protected override ValueTask OnDisconnectedAsync(FramedConnectionContext context, ConnectionShutdownReason reason, Exception? error)
    {
        recorder.OnDisconnected(context, reason, error);
        return default;
    }
}
