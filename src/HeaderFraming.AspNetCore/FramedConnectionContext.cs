using System;
using System.Collections.Generic;
using System.IO.Pipelines;
using System.Net;
using System.Threading;
using System.Threading.Tasks;
using HeaderFraming.AspNetCore.Internal;
using HeaderFraming.Serialization;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;

namespace HeaderFraming.AspNetCore;

/// <summary>
/// A <see cref="FramedConnection"/> over a Kestrel <see cref="Microsoft.AspNetCore.Connections.ConnectionContext"/>: whole frames
/// in and out of the connection's transport, with the connection's id, its endpoints, one token that fires when it ends and
/// one that fires when the server asks it to close.
/// </summary>
/// <remarks>
/// <para><b>Kestrel owns the transport.</b> Disposing this context disposes the <see cref="Connection"/>, which sends what
/// is buffered and completes both sides of <see cref="Microsoft.AspNetCore.Connections.ConnectionContext.Transport"/>; the
/// <see cref="Microsoft.AspNetCore.Connections.ConnectionContext"/> itself is never disposed here (Kestrel disposes it when
/// the handler returns).</para>
/// <para><b>Memory</b>: unless the options name a pool, the connection's buffers come from Kestrel's memory pool (the
/// transport's <see cref="IMemoryPoolFeature"/>).</para>
/// <para>A <see cref="FramedConnectionHandler"/> makes one per connection; <see cref="Create"/> makes one in a connection
/// handler or middleware of your own.</para>
/// </remarks>
public sealed class FramedConnectionContext : IAsyncDisposable
{
    private readonly ConnectionContext _connectionContext;
    private readonly FramedConnection _connection;
    private readonly CancellationTokenSource _closed;
    private readonly TimeSpan _slowConsumerThreshold;
    private readonly TimeProvider _timeProvider;
    private readonly Action<FramedConnectionContext, TimeSpan>? _onSlowConsumer;
    private int _slowConsumerReported;
    private int _disposed;

    private FramedConnectionContext(
        ConnectionContext connectionContext,
        FramedConnection connection,
        string endpointName,
        TimeSpan slowConsumerThreshold,
        TimeProvider timeProvider,
        Action<FramedConnectionContext, TimeSpan>? onSlowConsumer)
    {
        _connectionContext = connectionContext;
        _connection = connection;
        EndpointName = endpointName;
        _slowConsumerThreshold = slowConsumerThreshold;
        _timeProvider = timeProvider;
        _onSlowConsumer = onSlowConsumer;
        _closed = CancellationTokenSource.CreateLinkedTokenSource(connectionContext.ConnectionClosed, connection.Closed);
        ShutdownRequested = connectionContext.Features.Get<IConnectionLifetimeNotificationFeature>()?.ConnectionClosedRequested ?? CancellationToken.None;
    }

    /// <summary>The framed connection: read frames from it (one reader at a time) and send through it (from any task).</summary>
    public FramedConnection Connection => _connection;

    /// <summary>Kestrel's connection underneath (its features, items and transport). Do not read or write its transport
    /// directly: the <see cref="Connection"/> does.</summary>
    public ConnectionContext ConnectionContext => _connectionContext;

    /// <summary>Kestrel's id of the connection, as its own logs show it.</summary>
    public string ConnectionId => _connectionContext.ConnectionId;

    /// <summary>The peer's address, if the transport knows it.</summary>
    public EndPoint? RemoteEndPoint => _connectionContext.RemoteEndPoint;

    /// <summary>This side's address, if the transport knows it.</summary>
    public EndPoint? LocalEndPoint => _connectionContext.LocalEndPoint;

    /// <summary>The endpoint's name: the one given to <c>UseFraming</c>, or the listen address when none was. Logs and
    /// metrics carry it as <c>endpoint</c>.</summary>
    public string EndpointName { get; }

    /// <summary>Kestrel's features of the connection (TLS: <c>ITlsConnectionFeature</c>, <c>ITlsHandshakeFeature</c>).</summary>
    public IFeatureCollection Features => _connectionContext.Features;

    /// <summary>A place to keep per-connection state for the connection's lifetime (Kestrel's <c>ConnectionContext.Items</c>).</summary>
    public IDictionary<object, object?> Items => _connectionContext.Items;

    /// <summary>Fires once when the connection ends: Kestrel's <c>ConnectionClosed</c> (the transport closed or was aborted)
    /// or the <see cref="Connection"/>'s <see cref="FramedConnection.Closed"/> (the peer closed, a frame was malformed or timed
    /// out, the connection was disposed), whichever comes first. Pass it to work that should stop with the connection.</summary>
    public CancellationToken Closed => _closed.Token;

    /// <summary>Fires when the server asks the connection to close because the host is stopping (Kestrel's
    /// <see cref="IConnectionLifetimeNotificationFeature.ConnectionClosedRequested"/>); <see cref="CancellationToken.None"/>
    /// when the transport offers no such notice. A <see cref="FramedConnectionHandler"/> then delivers the frames already
    /// received and returns; Kestrel aborts connections still open when the host's shutdown timeout expires.</summary>
    public CancellationToken ShutdownRequested { get; }

    /// <summary>Why the connection ended (<see cref="ConnectionShutdownReason.None"/> while it is open).</summary>
    public ConnectionShutdownReason ShutdownReason => _connection.ShutdownReason;

    /// <summary>
    /// Frames the transport of <paramref name="connectionContext"/>: a <see cref="FramedConnection"/> over its
    /// <see cref="Microsoft.AspNetCore.Connections.ConnectionContext.Transport"/> with Kestrel's memory pool (unless
    /// <paramref name="options"/> names one), wired to its <c>ConnectionClosed</c> and its close notice.
    /// </summary>
    /// <param name="connectionContext">Kestrel's connection, e.g. the argument of <c>ConnectionHandler.OnConnectedAsync</c>.</param>
    /// <param name="codec">The header format of both directions.</param>
    /// <param name="options">Buffering and read limits; <see langword="null"/> for the defaults. Not changed: when Kestrel's
    /// pool is used, a copy carries it.</param>
    /// <param name="endpointName">The endpoint's name for <see cref="EndpointName"/>; <see langword="null"/> for the local
    /// address.</param>
    /// <returns>The context; dispose it (not the <see cref="Microsoft.AspNetCore.Connections.ConnectionContext"/>) when done.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="connectionContext"/> or <paramref name="codec"/> is <see langword="null"/>.</exception>
    public static FramedConnectionContext Create(ConnectionContext connectionContext, IFrameCodec codec, FramedConnectionOptions? options = null, string? endpointName = null)
    {
        ArgumentNullException.ThrowIfNull(connectionContext);
        ArgumentNullException.ThrowIfNull(codec);
        options = FramedConnectionOptionsCopy.WithTransportPool(options ?? new FramedConnectionOptions(), connectionContext);
        return CreateCore(connectionContext, codec, options, endpointName ?? connectionContext.LocalEndPoint?.ToString() ?? "unknown", Timeout.InfiniteTimeSpan, TimeProvider.System, onSlowConsumer: null);
    }

    internal static FramedConnectionContext CreateCore(
        ConnectionContext connectionContext,
        IFrameCodec codec,
        FramedConnectionOptions options,
        string endpointName,
        TimeSpan slowConsumerThreshold,
        TimeProvider timeProvider,
        Action<FramedConnectionContext, TimeSpan>? onSlowConsumer)
    {
        FramedConnection connection = FramedConnection.Create(connectionContext.Transport, codec, options);
        try
        {
            return new FramedConnectionContext(connectionContext, connection, endpointName, slowConsumerThreshold, timeProvider, onSlowConsumer);
        }
        catch
        {
            _ = connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>Sends one frame, like <see cref="FramedConnection.SendAsync(ReadOnlyMemory{byte}, CancellationToken)"/>, and
    /// reports the peer as a slow consumer when backpressure holds the send longer than
    /// <see cref="FramingEndpointOptions.SlowConsumerThreshold"/>.</summary>
    /// <param name="payload">The payload; copied into the connection's buffers by the time the returned task completes.</param>
    /// <param name="cancellationToken">Cancels a send still held by backpressure (it then wrote nothing).</param>
    /// <returns>A task that completes when the frame is buffered.</returns>
    /// <exception cref="System.IO.IOException">The connection can no longer send.</exception>
    /// <exception cref="ObjectDisposedException">The connection was disposed.</exception>
    public ValueTask SendAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default)
        => WatchForSlowConsumer(_connection.SendAsync(payload, cancellationToken));

    /// <summary>Serializes and sends one message, like <see cref="FramedConnection.SendAsync{T}(T, IFrameSerializer{T}, CancellationToken)"/>,
    /// and reports a slow consumer like <see cref="SendAsync(ReadOnlyMemory{byte}, CancellationToken)"/>.</summary>
    /// <typeparam name="T">The message type.</typeparam>
    /// <param name="value">The message.</param>
    /// <param name="serializer">The payload format, e.g. <see cref="Utf8TextSerializer.Instance"/>.</param>
    /// <param name="cancellationToken">Cancels a send still held by backpressure (it then wrote nothing).</param>
    /// <returns>A task that completes when the frame is buffered.</returns>
    /// <exception cref="System.IO.IOException">The connection can no longer send.</exception>
    /// <exception cref="ObjectDisposedException">The connection was disposed.</exception>
    public ValueTask SendAsync<T>(T value, IFrameSerializer<T> serializer, CancellationToken cancellationToken = default)
        => WatchForSlowConsumer(_connection.SendAsync(value, serializer, cancellationToken));

    /// <summary>Aborts the connection at once (Kestrel's <see cref="Microsoft.AspNetCore.Connections.ConnectionContext.Abort(ConnectionAbortedException)"/>):
    /// the socket is closed without sending what is buffered, and a pending read ends with an error.</summary>
    /// <param name="reason">Why, for Kestrel's logs; <see langword="null"/> for a generic reason.</param>
    public void Abort(string? reason = null)
        => _connectionContext.Abort(new ConnectionAbortedException(reason ?? "The application aborted the framed connection."));

    /// <summary>Disposes the <see cref="Connection"/> (sending what is buffered, for up to 5 seconds, then completing the
    /// transport's pipes). Kestrel's connection is left to Kestrel.</summary>
    /// <returns>A task that completes when the connection is closed.</returns>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _connection.DisposeAsync().ConfigureAwait(false);
        _closed.Dispose();
    }

    private ValueTask WatchForSlowConsumer(ValueTask send)
    {
        if (send.IsCompleted || _onSlowConsumer is null || _slowConsumerThreshold == Timeout.InfiniteTimeSpan || Volatile.Read(ref _slowConsumerReported) != 0)
        {
            return send;
        }

        return WatchAsync(send.AsTask());
    }

    private async ValueTask WatchAsync(Task send)
    {
        long started = _timeProvider.GetTimestamp();
        using (var stopWatching = new CancellationTokenSource())
        {
            Task delay = Task.Delay(_slowConsumerThreshold, _timeProvider, stopWatching.Token);
            if (await Task.WhenAny(send, delay).ConfigureAwait(false) == delay && !delay.IsCanceled
                && Interlocked.Exchange(ref _slowConsumerReported, 1) == 0)
            {
                _onSlowConsumer!(this, _timeProvider.GetElapsedTime(started));
            }

            stopWatching.Cancel();
        }

        await send.ConfigureAwait(false);
    }
}
