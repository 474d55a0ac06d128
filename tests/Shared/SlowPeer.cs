using System;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;

namespace HeaderFraming.Testing;

/// <summary>A peer that trickles its bytes (a slowloris).</summary>
public static class SlowPeer
{
    /// <summary>Sends <paramref name="bytes"/> one at a time, <paramref name="interval"/> apart, until all are sent or
    /// <paramref name="stop"/> is cancelled.</summary>
    /// <returns>How many bytes it sent, so that a test can tell it was stopped before the end.</returns>
    public static async Task<int> TrickleAsync(Socket socket, ReadOnlyMemory<byte> bytes, TimeSpan interval, CancellationToken stop)
    {
        int sent = 0;
        try
        {
            while (sent < bytes.Length)
            {
                await socket.SendAsync(bytes.Slice(sent, 1), SocketFlags.None, stop).ConfigureAwait(false);
                sent++;
                if (sent < bytes.Length)
                {
                    await Task.Delay(interval, stop).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }

        return sent;
    }
}
