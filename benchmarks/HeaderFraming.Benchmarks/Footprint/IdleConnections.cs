using System.Buffers;
using System.Net.Security;
using System.Net.Sockets;
using HeaderFraming.Codecs;
using HeaderFraming.Testing;

namespace HeaderFraming.Benchmarks.Footprint;

/// <summary>
/// The server ends of one row, each brought to idle the way a server would: accepted, wrapped, its one frame read, and the
/// next read pending. The arrays that hold them are made up front, so that a measurement taken before the first
/// <see cref="SetUpAsync"/> already includes them: what grows is only what each connection holds.
/// </summary>
internal sealed class IdleConnections
{
    private readonly FootprintRow _row;
    private readonly SslServerAuthenticationOptions? _tls;
    private readonly FramedConnection?[] _connections;
    private readonly ValueTask<FrameReadResult>[] _pendingFrames;
    private readonly Socket?[] _sockets;
    private readonly ValueTask<int>[] _pendingReceives;
    private readonly byte[]?[] _receiveBuffers;
    private int _count;

    public IdleConnections(FootprintRow row, int capacity, SslServerAuthenticationOptions? tls)
    {
        if (row.UsesTls && tls is null)
        {
            throw new ArgumentException("A TLS row needs the server's authentication options.", nameof(tls));
        }

        _row = row;
        _tls = tls;
        bool framed = row != FootprintRow.Floor && row != FootprintRow.Floor4KiB;
        _connections = new FramedConnection?[framed ? capacity : 0];
        _pendingFrames = new ValueTask<FrameReadResult>[framed ? capacity : 0];
        _sockets = new Socket?[framed ? 0 : capacity];
        _pendingReceives = new ValueTask<int>[framed ? 0 : capacity];
        _receiveBuffers = new byte[]?[row == FootprintRow.Floor4KiB ? capacity : 0];
    }

    /// <summary>Connections brought to idle so far.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Wraps <paramref name="accepted"/> as the row says, reads the client's frame, and leaves the next read
    /// pending.</summary>
    /// <param name="index">The connection's slot.</param>
    /// <param name="accepted">The server end.</param>
    /// <param name="scratch">A buffer of the caller's for the bare-socket floor, which must not hold one of its own.</param>
    /// <param name="cancellationToken">Cancels the handshake and the first read.</param>
    public async Task SetUpAsync(int index, Socket accepted, byte[] scratch, CancellationToken cancellationToken)
    {
        if (_row == FootprintRow.Floor || _row == FootprintRow.Floor4KiB)
        {
            _sockets[index] = accepted;
            byte[] buffer = scratch;
            if (_row == FootprintRow.Floor4KiB)
            {
                buffer = new byte[4096];
                _receiveBuffers[index] = buffer;
            }

            await ReceiveFrameAsync(accepted, buffer, cancellationToken);
            Memory<byte> next = _row == FootprintRow.Floor4KiB ? buffer : Memory<byte>.Empty;
            _pendingReceives[index] = accepted.ReceiveAsync(next, SocketFlags.None);
            if (_pendingReceives[index].IsCompleted)
            {
                throw new InvalidOperationException($"Connection {index}: the receive after the frame completed at once.");
            }
        }
        else
        {
            FramedConnection connection = await WrapAsync(accepted, cancellationToken);
            _connections[index] = connection;
            FrameReadResult first = await connection.ReadFrameAsync(cancellationToken);
            if (!first.HasFrame || !first.Frame.Payload.ToArray().AsSpan().SequenceEqual(FootprintClients.Payload.Span))
            {
                throw new InvalidOperationException($"Connection {index}: the client's frame did not arrive intact.");
            }

            _pendingFrames[index] = connection.ReadFrameAsync(CancellationToken.None);
            if (_pendingFrames[index].IsCompleted)
            {
                throw new InvalidOperationException($"Connection {index}: the read after the frame completed at once.");
            }
        }

        Interlocked.Increment(ref _count);
    }

    /// <summary>
    /// Throws unless every pending read is still pending (nothing arrived, nothing failed), except that a bare zero-byte
    /// receive that completed with no data waiting (a spurious readiness of the socket engine: a few per thousand sockets
    /// here, from the epoll registration racing the first receive) is re-issued, as a server's receive loop would.
    /// </summary>
    /// <returns>How many zero-byte receives were re-issued.</returns>
    public int CheckIdle()
    {
        int count = Count;
        int reissued = 0;
        for (int i = 0; i < count; i++)
        {
            if (_connections.Length > 0)
            {
                if (_pendingFrames[i].IsCompleted)
                {
                    throw new InvalidOperationException($"Connection {i} is not idle: its pending read completed.");
                }

                continue;
            }

            if (!_pendingReceives[i].IsCompleted)
            {
                continue;
            }

            if (_row != FootprintRow.Floor || !PendingReads.ReissueIfSpurious(_sockets[i]!, ref _pendingReceives[i]))
            {
                throw new InvalidOperationException($"Connection {i} is not idle: its pending receive completed.");
            }

            reissued++;
        }

        return reissued;
    }

    /// <summary>Closes every server end and observes its pending read (which then fails, as it should).</summary>
    public async Task DisposeAsync()
    {
        // Every slot, not only the first Count: a set-up that failed half-way left its end in its slot.
        var closing = new List<Task>(Count);
        for (int i = 0; i < Math.Max(_connections.Length, _sockets.Length); i++)
        {
            if (_connections.Length > 0)
            {
                FramedConnection? connection = _connections[i];
                if (connection is not null)
                {
                    closing.Add(PendingReads.CloseAsync(connection, _pendingFrames[i]));
                }
            }
            else if (_sockets[i] is Socket socket)
            {
                closing.Add(PendingReads.CloseAsync(socket, _pendingReceives[i]));
            }
        }

        await Task.WhenAll(closing);
        Array.Clear(_connections);
        Array.Clear(_sockets);
        Array.Clear(_receiveBuffers);
    }

    private async Task<FramedConnection> WrapAsync(Socket accepted, CancellationToken cancellationToken)
    {
        if (_row == FootprintRow.Socket)
        {
            return FramedConnection.Create(accepted, AsciiDecimalCodec.Default);
        }

        var stream = new NetworkStream(accepted, ownsSocket: true);
        if (_row == FootprintRow.NetworkStream)
        {
            return FramedConnection.Create(stream, AsciiDecimalCodec.Default);
        }

        var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
        try
        {
            await ssl.AuthenticateAsServerAsync(_tls!, cancellationToken);
        }
        catch
        {
            await ssl.DisposeAsync();
            throw;
        }

        return FramedConnection.Create(ssl, AsciiDecimalCodec.Default);
    }

    private static async Task ReceiveFrameAsync(Socket socket, byte[] buffer, CancellationToken cancellationToken)
    {
        int length = FootprintClients.Frame.Length;
        int received = 0;
        while (received < length)
        {
            int read = await socket.ReceiveAsync(buffer.AsMemory(received, length - received), SocketFlags.None, cancellationToken);
            if (read == 0)
            {
                throw new InvalidOperationException("The client closed before its frame arrived.");
            }

            received += read;
        }

        if (!buffer.AsSpan(0, length).SequenceEqual(FootprintClients.Frame.Span))
        {
            throw new InvalidOperationException("The client's frame did not arrive intact.");
        }
    }
}
