using System;
using System.Net.Sockets;
using System.Threading.Tasks;

namespace HeaderFraming.Testing;

/// <summary>
/// The reads that the idle-footprint test and probe leave pending on purpose (an idle connection's next frame, a bare
/// socket's zero-byte receive): a spurious wake-up re-issued as a server's receive loop would, and the end of each observed
/// when its connection closes, so that no exception goes unobserved.
/// </summary>
public static class PendingReads
{
    /// <summary>A zero-byte receive can complete with no data waiting (a readiness event of the socket engine that the
    /// first receive had already consumed, a few per thousand sockets): issues it again if so.</summary>
    /// <returns>Whether <paramref name="pending"/> was re-issued.</returns>
    public static bool ReissueIfSpurious(Socket socket, ref ValueTask<int> pending)
    {
        if (!pending.IsCompletedSuccessfully || socket.Available != 0)
        {
            return false;
        }

        _ = pending.Result;
        pending = socket.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None);
        return true;
    }

    /// <summary>Disposes <paramref name="connection"/>, then awaits the read it had pending, which ends with
    /// <see cref="ObjectDisposedException"/>.</summary>
    public static async Task CloseAsync(FramedConnection connection, ValueTask<FrameReadResult> pending)
    {
        await connection.DisposeAsync().ConfigureAwait(false);
        try
        {
            await pending.ConfigureAwait(false);
        }
        catch (ObjectDisposedException)
        {
            // The read that was waiting when the connection was disposed.
        }
    }

    /// <summary>Disposes <paramref name="socket"/>, then awaits the receive it had pending, which ends with a
    /// <see cref="SocketException"/> (or <see cref="ObjectDisposedException"/>).</summary>
    public static async Task CloseAsync(Socket socket, ValueTask<int> pending)
    {
        socket.Dispose();
        try
        {
            await pending.ConfigureAwait(false);
        }
        catch (SocketException)
        {
            // The receive that was waiting when the socket was closed.
        }
        catch (ObjectDisposedException)
        {
        }
    }
}
