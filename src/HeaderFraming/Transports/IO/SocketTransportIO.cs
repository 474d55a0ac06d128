using System;
using System.Buffers;
using System.Collections.Generic;
using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Threading;
using System.Threading.Tasks;
using HeaderFraming.Internal;

namespace HeaderFraming.Transports.IO;

/// <summary>A connected stream <see cref="Socket"/>: zero-byte receives to wait for data, gathered sends.</summary>
/// <param name="socket">The socket.</param>
/// <param name="leaveOpen">Whether the connection leaves the socket open, so that closing it cannot end a send that the
/// connection's dispose cancels. Multi-segment buffers are then sent segment by segment, not gathered: the list overload of
/// <c>Socket.SendAsync</c> cannot be cancelled, and a send that outlived the connection would read pool blocks already
/// reused. On netstandard2.0, which has no cancellable send at all, such a socket sends from a copy (see
/// <c>SendCopyAsync</c>).</param>
internal sealed class SocketTransportIO(Socket socket, bool leaveOpen) : TransportIO
{
    private readonly Socket _socket = socket;
    private List<ArraySegment<byte>>? _gather;

    public override object Wrapped => _socket;

    public override bool CanWaitForData => true;

    /// <inheritdoc />
    public override bool ZeroByteWaitsCanBeAbandoned => true;

#if !NET
    /// <inheritdoc />
    /// <remarks>netstandard2.0's <c>Socket.ReceiveAsync(ArraySegment, SocketFlags)</c> takes no token: only closing the
    /// socket ends it, and neither a left-open socket nor one handed back by a detach is closed.</remarks>
    public override bool ReceivesAreCancelable => false;
#endif

    private readonly bool _gathersSends = !leaveOpen;
#if !NET
    private readonly bool _sendsCopies = leaveOpen;
#endif

    /// <inheritdoc />
    public override bool KnowsReadiness => true;

    /// <inheritdoc />
    /// <remarks>Bytes in the socket's receive queue (FIONREAD), else whether it polls readable, which with no bytes waiting
    /// means the peer's FIN or an error: a receive returns at once in both cases.</remarks>
    public override bool IsReadable(out int available) => IsReadable(_socket, out available);

    /// <summary>Whether a receive on <paramref name="socket"/> would complete at once (see the remarks above); shared with a
    /// plain NetworkStream's transport.</summary>
    public static bool IsReadable(Socket socket, out int available)
    {
        available = socket.Available;
        return available > 0 || socket.Poll(0, SelectMode.SelectRead);
    }

    public override ValueTask<int> WaitForDataAsync(CancellationToken cancellationToken)
    {
        // A zero-byte receive completes when data (or the end of the stream) is there, and holds no buffer meanwhile.
#if NET
        return _socket.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None, cancellationToken);
#else
        return new ValueTask<int>(_socket.ReceiveAsync(new ArraySegment<byte>(Array.Empty<byte>()), SocketFlags.None));
#endif
    }

    public override ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
#if NET
        return _socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);
#else
        bool isArray = MemoryMarshal.TryGetArray((ReadOnlyMemory<byte>)buffer, out ArraySegment<byte> array);
        Debug.Assert(isArray, "Pipe memory from the connection's pools is array-backed.");
        return new ValueTask<int>(_socket.ReceiveAsync(array, SocketFlags.None));
#endif
    }


    public override ValueTask SendAsync(ReadOnlySequence<byte> buffer, CancellationToken cancellationToken)
    {
        if (buffer.IsSingleSegment)
        {
            return SendSingleAsync(buffer.First, cancellationToken);
        }

        return _gathersSends ? SendGatheredAsync(buffer) : SendEachAsync(buffer, cancellationToken);
    }

    private async ValueTask SendSingleAsync(ReadOnlyMemory<byte> memory, CancellationToken cancellationToken)
    {
        while (!memory.IsEmpty)
        {
#if NET
            int sent = await _socket.SendAsync(memory, SocketFlags.None, cancellationToken).ConfigureAwait(false);
#else
            int sent = _sendsCopies
                ? await SendCopyAsync(memory, cancellationToken).ConfigureAwait(false)
                : await _socket.SendAsync(ToArraySegment(memory), SocketFlags.None).ConfigureAwait(false);
#endif
            memory = memory.Slice(sent);
        }
    }

#if !NET
    /// <summary>A send that the connection's dispose can end on netstandard2.0, whose <c>Socket.SendAsync</c> takes no
    /// token, for a socket it leaves open (and so cannot close to end the send): the bytes go from a copy, and a cancelled
    /// wait abandons the send. An abandoned send goes on until the peer reads or the socket's owner closes it, with the
    /// connection's own bytes only, never a pool block the connection has given back; the copy returns to the array pool
    /// when it ends.</summary>
    private async ValueTask<int> SendCopyAsync(ReadOnlyMemory<byte> memory, CancellationToken cancellationToken)
    {
        byte[] copy = ArrayPool<byte>.Shared.Rent(memory.Length);
        memory.CopyTo(copy);
        Task<int> send;
        try
        {
            send = _socket.SendAsync(new ArraySegment<byte>(copy, 0, memory.Length), SocketFlags.None);
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(copy);
            throw;
        }

        _ = send.ContinueWith(
            static (t, state) =>
            {
                _ = t.Exception;
                ArrayPool<byte>.Shared.Return((byte[])state!);
            },
            copy,
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
        await TaskHelpers.WaitAsync(send, cancellationToken).ConfigureAwait(false);
        return await send.ConfigureAwait(false);
    }
#endif

    /// <summary>Every segment of the outbound buffer in one send call (writev): frames from many senders, or one frame
    /// spanning segments, leave in one system call instead of one per segment.</summary>
    private async ValueTask SendGatheredAsync(ReadOnlySequence<byte> buffer)
    {
        List<ArraySegment<byte>> gather = _gather ??= new List<ArraySegment<byte>>();
        while (!buffer.IsEmpty)
        {
            gather.Clear();
            foreach (ReadOnlyMemory<byte> segment in buffer)
            {
                if (!segment.IsEmpty)
                {
                    gather.Add(ToArraySegment(segment));
                }
            }

            int sent;
            try
            {
                sent = await _socket.SendAsync(gather, SocketFlags.None).ConfigureAwait(false);
            }
            finally
            {
                gather.Clear();
            }

            buffer = buffer.Slice(sent);
        }
    }

    private async ValueTask SendEachAsync(ReadOnlySequence<byte> buffer, CancellationToken cancellationToken)
    {
        foreach (ReadOnlyMemory<byte> segment in buffer)
        {
            await SendSingleAsync(segment, cancellationToken).ConfigureAwait(false);
        }
    }

    private static ArraySegment<byte> ToArraySegment(ReadOnlyMemory<byte> memory)
    {
        if (MemoryMarshal.TryGetArray(memory, out ArraySegment<byte> array))
        {
            return array;
        }

        // Only a custom MemoryPool hands out memory that is not an array: copy that segment.
        return new ArraySegment<byte>(memory.ToArray());
    }

    public override ValueTask ShutdownSendAsync()
    {
        if (_socket.Connected)
        {
            _socket.Shutdown(SocketShutdown.Send);
        }

        return default;
    }

    public override void Close() => _socket.Dispose();
}
