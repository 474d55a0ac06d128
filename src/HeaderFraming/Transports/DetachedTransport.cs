using System;
using System.IO;
using System.IO.Pipelines;
using System.Net.Sockets;
using HeaderFraming.Transports;

namespace HeaderFraming;

/// <summary>
/// What <see cref="FramedConnection.DetachAsync"/> hands back: the transport, open and now the caller's, and every byte
/// the connection had received from it but not yet returned as a frame. To frame again after a switch the connection cannot
/// make itself (STARTTLS: wrap it in an <see cref="System.Net.Security.SslStream"/>), read <see cref="Buffered"/> first,
/// then the transport; <see cref="AsStream"/> does exactly that.
/// </summary>
/// <remarks>
/// <example>
/// <code>
/// DetachedTransport detached = await connection.DetachAsync();        // after the server's "go ahead with TLS" frame
/// var tls = new SslStream(detached.AsStream());                       // the client's ClientHello may already be in Buffered
/// await tls.AuthenticateAsServerAsync(certificate);
/// await using FramedConnection secure = FramedConnection.Create(tls, codec);
/// </code>
/// </example>
/// </remarks>
public sealed class DetachedTransport
{
    internal DetachedTransport(byte[] buffered, Stream? stream, Socket? socket, IDuplexPipe? pipe)
    {
        Buffered = buffered;
        Stream = stream;
        Socket = socket;
        Pipe = pipe;
    }

    /// <summary>The bytes received after the last frame the connection returned, in order: they come before anything still
    /// to be read from the transport. Empty when there were none.</summary>
    public ReadOnlyMemory<byte> Buffered { get; }

    /// <summary>The stream the connection was created over, or <see langword="null"/>.</summary>
    public Stream? Stream { get; }

    /// <summary>The socket the connection was created over, or <see langword="null"/>.</summary>
    public Socket? Socket { get; }

    /// <summary>The duplex pipe the connection was created over, or <see langword="null"/>. Its reader was never advanced past
    /// the bytes of <see cref="Buffered"/>; its writer is not completed.</summary>
    public IDuplexPipe? Pipe { get; }

    /// <summary>
    /// A stream that reads <see cref="Buffered"/> first, then the transport, and writes to the transport: what a TLS layer or
    /// another protocol's reader needs. Disposing it disposes the stream or socket (a pipe is completed).
    /// </summary>
    /// <returns>A new stream over the transport.</returns>
    public Stream AsStream()
    {
        if (Stream != null)
        {
            return new PrefixedStream(Buffered, Stream, Stream);
        }

        if (Socket != null)
        {
            var network = new NetworkStream(Socket, ownsSocket: true);
            return new PrefixedStream(Buffered, network, network);
        }

        return new PrefixedStream(Buffered, Pipe!.Input.AsStream(), Pipe.Output.AsStream());
    }
}
