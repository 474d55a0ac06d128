using System;
using System.Buffers;
using System.IO;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;

namespace HeaderFraming.Transports.IO;

/// <summary>
/// The byte-level operations of one transport (a socket, a stream, a pipe reader), as <see cref="TransportPipe"/>'s loops
/// use them. One receive and one send may run at once (never two of either); nothing here buffers.
/// </summary>
internal abstract class TransportIO
{
    /// <summary>Whether <see cref="WaitForDataAsync"/> really waits for data without a buffer (a zero-byte read the
    /// transport honours). When <see langword="false"/> the receive loop goes straight to <see cref="ReceiveAsync"/>.</summary>
    public abstract bool CanWaitForData { get; }

    /// <summary>Whether a pending <see cref="ReceiveAsync"/> ends when its token is cancelled. When it cannot (a socket on
    /// netstandard2.0), the receive loop waits with a zero-byte receive before every read and stops after it once aborted, so
    /// that a receive left behind by a disposed or detached connection never takes bytes meant for the socket's next owner.</summary>
    public virtual bool ReceivesAreCancelable => true;

    /// <summary>Whether a pending <see cref="WaitForDataAsync"/> may be left behind when the connection stops (a dispose, a
    /// detach) while the transport lives on: a socket's zero-byte receive takes no bytes, and the socket's next receive
    /// queues behind it. Not a stream's (two reads of a stream may not overlap) nor a pipe's. When <see langword="true"/>
    /// the wait is given no token.</summary>
    public virtual bool ZeroByteWaitsCanBeAbandoned => false;

    /// <summary>Whether <see cref="IsReadable"/> can tell, without waiting, that a receive would complete at once. When
    /// <see langword="true"/> the receive loop issues a receive only then, so that none is pending when the connection
    /// stops.</summary>
    public virtual bool KnowsReadiness => false;

    /// <summary>Whether a receive would complete at once: bytes are waiting, or the end of the stream or an error is. Called
    /// only where <see cref="KnowsReadiness"/>.</summary>
    /// <param name="available">How many bytes are known to be waiting, or 0.</param>
    public virtual bool IsReadable(out int available)
    {
        available = 0;
        return true;
    }

    /// <summary>What the connection wraps (a Stream, a Socket, an IDuplexPipe), for a detach to hand back.</summary>
    public abstract object Wrapped { get; }

    /// <summary>Waits until bytes can be received (or the end of the stream is there), holding no buffer while it waits.</summary>
    /// <returns>How many bytes are known to be waiting, or 0 when the transport does not say.</returns>
    public abstract ValueTask<int> WaitForDataAsync(CancellationToken cancellationToken);

    /// <summary>Receives up to <paramref name="buffer"/>'s length; 0 at the end of the stream.</summary>
    public abstract ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken);

    /// <summary>Sends every byte of <paramref name="buffer"/>.</summary>
    public abstract ValueTask SendAsync(ReadOnlySequence<byte> buffer, CancellationToken cancellationToken);

    /// <summary>Ends the send side (TCP FIN, TLS close_notify) where the transport has one.</summary>
    public abstract ValueTask ShutdownSendAsync();

    /// <summary>Closes the transport (aborts pending operations).</summary>
    public abstract void Close();

    /// <summary>What a receive or send failure means for the connection.</summary>
    public static ConnectionShutdownReason Classify(Exception exception)
    {
        for (Exception? ex = exception; ex != null; ex = ex.InnerException)
        {
            if (ex is SocketException socket)
            {
                return socket.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionAborted
                    or SocketError.Shutdown or SocketError.NetworkReset or SocketError.Disconnecting
                    ? ConnectionShutdownReason.Reset
                    : ConnectionShutdownReason.TransportError;
            }

            // Kestrel completes a transport's input with Microsoft.AspNetCore.Connections.ConnectionResetException on a
            // reset; the core package does not reference ASP.NET Core, so it is matched by name.
            if (ex.GetType().Name == "ConnectionResetException")
            {
                return ConnectionShutdownReason.Reset;
            }

            if (ex is not IOException)
            {
                break;
            }
        }

        return ConnectionShutdownReason.TransportError;
    }
}
