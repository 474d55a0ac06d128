using System;
using System.Buffers;
using System.Diagnostics;
using System.IO;
using System.Net.Security;
using System.Net.Sockets;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Threading;
using System.Threading.Tasks;

namespace HeaderFraming.Transports.IO;

/// <summary>Any readable and writable <see cref="Stream"/>; zero-byte reads only where the stream type honours them.</summary>
internal sealed class StreamTransportIO(Stream stream, Socket? socket) : TransportIO
{
    private readonly Stream _stream = stream;
    private readonly Socket? _socket = socket;

#if !NET
    // The half-close's two ways in, which netstandard2.0's surface hides although every runtime that loads this build has
    // them: NetworkStream.Socket (protected there, public from .NET Core 3.0 on) and SslStream.ShutdownAsync (.NET
    // Framework 4.7, .NET Core 2.0). Found once; where one is missing, that part of the half-close is skipped (and without
    // the socket, a NetworkStream's readiness is not known: it receives as any stream).
    private static readonly PropertyInfo? s_networkStreamSocket =
        typeof(NetworkStream).GetProperty("Socket", BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic);

    private static readonly Func<SslStream, Task>? s_sslShutdown =
        typeof(SslStream).GetMethod("ShutdownAsync", BindingFlags.Instance | BindingFlags.Public, null, Type.EmptyTypes, null) is MethodInfo shutdown
            ? (Func<SslStream, Task>)shutdown.CreateDelegate(typeof(Func<SslStream, Task>))
            : null;
#endif

    public override object Wrapped => _stream;

    /// <summary>The socket under a plain <see cref="NetworkStream"/> (not a subclass, which may buffer), whose readiness is
    /// the stream's: see <see cref="TransportIO.KnowsReadiness"/>.</summary>
    private readonly Socket? _readiness = stream.GetType() == typeof(NetworkStream) ? SocketOf((NetworkStream)stream) : null;

    /// <inheritdoc />
    public override bool KnowsReadiness => _readiness != null;

    /// <inheritdoc />
    public override bool IsReadable(out int available) => SocketTransportIO.IsReadable(_readiness!, out available);

    /// <summary>The socket under <paramref name="network"/>, or <see langword="null"/> where netstandard2.0's runtime hides
    /// it.</summary>
    private static Socket? SocketOf(NetworkStream network) =>
#if NET
        network.Socket;
#else
        s_networkStreamSocket?.GetValue(network) as Socket;
#endif

    public override bool CanWaitForData { get; } = HonoursZeroByteReads(stream);

    /// <summary>
    /// The stream types whose zero-byte read waits for data instead of returning 0 at once, checked by
    /// <c>ZeroByteReadTests</c>: <see cref="NetworkStream"/>, and on .NET 8+ <see cref="SslStream"/> (it passes the zero-byte
    /// read to its inner stream once its own buffer is empty). Others (pipe streams, <see cref="BufferedStream"/>, most
    /// wrappers) return 0 at once, which would only cost a call per read: they read with a buffer, as before.
    /// </summary>
    public static bool HonoursZeroByteReads(Stream stream)
    {
        if (stream is NetworkStream)
        {
            return true;
        }

#if NET
        return stream is SslStream;
#else
        return false;
#endif
    }

    public override ValueTask<int> WaitForDataAsync(CancellationToken cancellationToken)
    {
#if NET
        return _stream.ReadAsync(Memory<byte>.Empty, cancellationToken);
#else
        return new ValueTask<int>(_stream.ReadAsync(Array.Empty<byte>(), 0, 0, cancellationToken));
#endif
    }

    public override ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
#if NET
        return _stream.ReadAsync(buffer, cancellationToken);
#else
        bool isArray = MemoryMarshal.TryGetArray((ReadOnlyMemory<byte>)buffer, out ArraySegment<byte> array);
        Debug.Assert(isArray, "Pipe memory from the connection's pools is array-backed.");
        return new ValueTask<int>(_stream.ReadAsync(array.Array!, array.Offset, array.Count, cancellationToken));
#endif
    }

    public override async ValueTask SendAsync(ReadOnlySequence<byte> buffer, CancellationToken cancellationToken)
    {
        foreach (ReadOnlyMemory<byte> segment in buffer)
        {
#if NET
            await _stream.WriteAsync(segment, cancellationToken).ConfigureAwait(false);
#else
            if (MemoryMarshal.TryGetArray(segment, out ArraySegment<byte> array))
            {
                await _stream.WriteAsync(array.Array!, array.Offset, array.Count, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await _stream.WriteAsync(segment.ToArray(), 0, segment.Length, cancellationToken).ConfigureAwait(false);
            }
#endif
        }

        if (_stream is not NetworkStream)
        {
            await _stream.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public override async ValueTask ShutdownSendAsync()
    {
#if NET
        if (_stream is SslStream ssl)
        {
            // close_notify: a TLS peer reads it as the end of the stream. The TCP connection under it is not reachable
            // from here (AuthenticatedStream.InnerStream is protected); it closes on dispose.
            await ssl.ShutdownAsync().ConfigureAwait(false);
        }

#else
        if (_stream is SslStream ssl && s_sslShutdown != null)
        {
            await s_sslShutdown(ssl).ConfigureAwait(false);
        }

#endif
        Socket? socket = _socket ?? (_stream is NetworkStream network ? SocketOf(network) : null);
        if (socket != null && socket.Connected)
        {
            socket.Shutdown(SocketShutdown.Send);
        }
    }

    public override void Close() => _stream.Dispose();
}
