using System;
using System.IO;
using System.Threading.Tasks;
using HeaderFraming.AspNetCore.Internal;
using Microsoft.AspNetCore.Connections;

namespace HeaderFraming.AspNetCore;

/// <summary>
/// A Kestrel <see cref="ConnectionHandler"/> for a framed protocol: frames each connection of an endpoint set up with
/// <see cref="FramingConnectionBuilderExtensions.UseFraming{THandler}(Microsoft.AspNetCore.Server.Kestrel.Core.ListenOptions, IFrameCodec, string?)"/>,
/// runs its read loop and calls <see cref="OnFrameAsync"/> once per frame, in order.
/// </summary>
/// <remarks>
/// <para><b>Lifetime of a connection</b>: <see cref="OnConnectedAsync(FramedConnectionContext)"/>, then one
/// <see cref="OnFrameAsync"/> per frame until the peer closes, a frame is malformed, too large or late, the transport fails
/// or the server stops; then the connection is closed (what was sent is flushed first) and
/// <see cref="OnDisconnectedAsync"/> says why. Exceptions of the hooks are logged and close the connection; they never reach
/// Kestrel.</para>
/// <para><b>Graceful shutdown</b>: when the host stops, Kestrel asks every connection to close
/// (<see cref="FramedConnectionContext.ShutdownRequested"/>): the loop delivers the frames already received, then returns;
/// Kestrel aborts what is still open when the host's shutdown timeout expires.</para>
/// <para>One instance serves every connection of the endpoints it is used on (Kestrel's handlers are singletons):
/// keep per-connection state in locals, in <see cref="FramedConnectionContext.Items"/> or in a type of your own. The
/// handler is created from the application's services, so its constructor can take any of them.</para>
/// <para>Logs (category <c>HeaderFraming.AspNetCore.FramedConnectionHandler</c>): connection opened and closed (Debug,
/// with the <see cref="ConnectionShutdownReason"/>), framing errors (Information, with the error's message, which names
/// the protocol a confused peer seems to speak: "The bytes look like HTTP"), slow consumers (Warning), handler failures
/// (Error). Metrics: <see cref="FramingServerMeter"/>.</para>
/// </remarks>
public abstract class FramedConnectionHandler : ConnectionHandler
{
    /// <summary>Made by <c>UseFraming</c> from the application's services (or taken from them).</summary>
    protected FramedConnectionHandler()
    {
    }

    /// <summary>Runs one framed connection; Kestrel calls it. Override the <see cref="FramedConnectionContext"/> hooks instead.</summary>
    /// <param name="connection">Kestrel's connection.</param>
    /// <returns>A task that completes when the connection is closed.</returns>
    /// <exception cref="InvalidOperationException">The endpoint was not set up with <c>UseFraming</c>.</exception>
    public sealed override async Task OnConnectedAsync(ConnectionContext connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        FramingEndpoint endpoint = connection.Features.Get<FramingEndpoint>() ?? throw new InvalidOperationException(
            $"{GetType().Name} was run on an endpoint that was not set up with UseFraming: call listenOptions.UseFraming<{GetType().Name}>(codec) instead of UseConnectionHandler, so that the handler knows the endpoint's codec and options.");

        long started = endpoint.TimeProvider.GetTimestamp();
        FramedConnectionContext context = endpoint.CreateContext(connection);
        endpoint.Metrics.ConnectionOpened(endpoint.Name);
        Log.ConnectionOpened(endpoint.Logger, context.ConnectionId, context.RemoteEndPoint, endpoint.Name);
        Exception? error = null;
        try
        {
            await OnConnectedAsync(context).ConfigureAwait(false);
            await ReadLoopAsync(context, endpoint).ConfigureAwait(false);
        }
        catch (FrameException ex)
        {
            error = ex;
            endpoint.Metrics.Error(endpoint.Name, FramingServerMetrics.ErrorType(ex.Kind));
            Log.FramingError(endpoint.Logger, context.ConnectionId, context.RemoteEndPoint, endpoint.Name, ex.Kind, ex.Message, ex);
        }
        catch (Exception ex) when (IsTransportFailure(ex, context))
        {
            error = ex;
            Log.TransportError(endpoint.Logger, context.ConnectionId, context.RemoteEndPoint, endpoint.Name, ex.Message, ex);
        }
        catch (Exception ex)
        {
            error = ex;
            endpoint.Metrics.Error(endpoint.Name, "handler");
            Log.HandlerError(endpoint.Logger, context.ConnectionId, context.RemoteEndPoint, endpoint.Name, ex);
        }

        await context.DisposeAsync().ConfigureAwait(false);
        FramedConnection framed = context.Connection;
        ConnectionShutdownReason reason = framed.ShutdownReason;
        endpoint.Metrics.ConnectionClosed(endpoint.Name, reason, endpoint.TimeProvider.GetElapsedTime(started), framed.FramesReceived, framed.FramesSent);
        Log.ConnectionClosed(endpoint.Logger, context.ConnectionId, context.RemoteEndPoint, endpoint.Name, reason, framed.FramesReceived, framed.FramesSent, endpoint.TimeProvider.GetElapsedTime(started).TotalMilliseconds);
        try
        {
            await OnDisconnectedAsync(context, reason, error).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            endpoint.Metrics.Error(endpoint.Name, "handler");
            Log.HandlerError(endpoint.Logger, context.ConnectionId, context.RemoteEndPoint, endpoint.Name, ex);
        }
    }

    /// <summary>Called once a connection is framed, before its first frame is read: send a greeting, register the
    /// connection with a service of yours. The default does nothing.</summary>
    /// <param name="context">The connection.</param>
    /// <returns>A task; the first frame is read when it completes.</returns>
    protected virtual ValueTask OnConnectedAsync(FramedConnectionContext context) => default;

    /// <summary>Called for each frame, in order; the next frame is read when the returned task completes (so a slow
    /// handler applies backpressure to its peer).</summary>
    /// <param name="context">The connection; reply with <see cref="FramedConnectionContext.SendAsync(ReadOnlyMemory{byte}, System.Threading.CancellationToken)"/>.</param>
    /// <param name="frame">The frame. Its payload is a slice of the connection's buffers, <b>valid until the returned task
    /// completes</b>: copy what must outlive it.</param>
    /// <returns>A task that completes when the frame is handled.</returns>
    protected abstract ValueTask OnFrameAsync(FramedConnectionContext context, Frame frame);

    /// <summary>Called once the connection is closed (sends are no longer possible): unregister it, record why it ended.
    /// The default does nothing.</summary>
    /// <param name="context">The connection, already disposed.</param>
    /// <param name="reason">Why it ended: <see cref="ConnectionShutdownReason.PeerClosed"/>,
    /// <see cref="ConnectionShutdownReason.ProtocolError"/>, <see cref="ConnectionShutdownReason.LocalClose"/> (the server
    /// stopped or a hook failed), and so on.</param>
    /// <param name="error">What ended it when it was not a clean close: a <see cref="FrameException"/> (framing error, with
    /// its protocol hint), an <see cref="IOException"/> (the transport failed) or an exception of a hook; otherwise
    /// <see langword="null"/>.</param>
    /// <returns>A task.</returns>
    protected virtual ValueTask OnDisconnectedAsync(FramedConnectionContext context, ConnectionShutdownReason reason, Exception? error) => default;

    private async Task ReadLoopAsync(FramedConnectionContext context, FramingEndpoint endpoint)
    {
        FramedConnection connection = context.Connection;

        // Kestrel's close notice (host stopping) wakes the pending read without consuming anything; the frames received by
        // then are still delivered below.
        using var onShutdown = context.ShutdownRequested.Register(static state => ((FramedConnection)state!).CancelPendingRead(), connection);
        while (true)
        {
            FrameReadResult result = await connection.ReadFrameAsync().ConfigureAwait(false);
            if (result.HasFrame)
            {
                await OnFrameAsync(context, result.Frame).ConfigureAwait(false);
                if (!context.ShutdownRequested.IsCancellationRequested)
                {
                    continue;
                }
            }
            else if (result.IsCompleted)
            {
                return;
            }
            else if (!context.ShutdownRequested.IsCancellationRequested)
            {
                continue; // the application's own CancelPendingRead
            }

            await DrainAsync(context, endpoint).ConfigureAwait(false);
            return;
        }
    }

    /// <summary>
    /// Graceful shutdown: delivers every complete frame among the bytes the connection had received from the transport when
    /// the server asked it to close, then returns. A frame cut short there is dropped (its peer sees the close).
    /// </summary>
    private async Task DrainAsync(FramedConnectionContext context, FramingEndpoint endpoint)
    {
        // Every byte counted in BytesReceived is readable and TryReadFrame takes the bytes received since the last read, so
        // the frames among them come out at once; a few turns of the thread pool more are allowed for the rest of a frame
        // still being received, never a wait for the peer. Progress is the reader's position, which counts what the frames'
        // lengths leave out (trailers, oversized frames skipped).
        const int MaxTurns = 100;
        FramedConnection connection = context.Connection;
        long received = connection.BytesReceived;
        long frames = 0;
        Log.ShutdownRequested(endpoint.Logger, context.ConnectionId, endpoint.Name);
        for (int turns = 0; connection.Position < received && turns < MaxTurns; turns++)
        {
            while (connection.TryReadFrame(out Frame frame))
            {
                frames++;
                await OnFrameAsync(context, frame).ConfigureAwait(false);
            }

            if (connection.Position < received)
            {
                await Task.Yield();
            }
        }

        Log.ShutdownDrained(endpoint.Logger, context.ConnectionId, endpoint.Name, frames, Math.Max(received - connection.Position, 0));
    }

    /// <summary>The transport ended the connection (a reset, Kestrel's abort), rather than a bug in a hook.</summary>
    private static bool IsTransportFailure(Exception ex, FramedConnectionContext context)
        => ex is IOException or ConnectionResetException or ConnectionAbortedException
            || (ex is ObjectDisposedException or OperationCanceledException && context.Closed.IsCancellationRequested);
}
