using System;
using System.Collections.Generic;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;

namespace HeaderFraming.Testing;

/// <summary>Connected TCP socket pairs on 127.0.0.1 (free ports, loopback only, Nagle off on both ends).</summary>
/// <remarks>No await resumes on the caller's context, so a synchronous caller (a benchmark's GlobalSetup) may block on it.</remarks>
public static class Loopback
{
    /// <summary>Hang detection: a loopback connect or accept that takes this long will never finish.</summary>
    private static readonly TimeSpan s_connectLimit = TimeSpan.FromSeconds(30);

    /// <summary>A connected pair through a listener of its own.</summary>
    public static async Task<SocketPair> ConnectedPairAsync(CancellationToken cancellationToken = default)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return await ConnectedPairAsync(listener, cancellationToken: cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Connects a client to <paramref name="connectTo"/> (by default <paramref name="listener"/> itself; a proxy in
    /// front of it otherwise) and accepts the server end from <paramref name="listener"/>.</summary>
    public static async Task<SocketPair> ConnectedPairAsync(TcpListener listener, EndPoint? connectTo = null, CancellationToken cancellationToken = default)
    {
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        Socket? server = null;
        try
        {
            Task connect = client.ConnectAsync(connectTo ?? listener.LocalEndpoint, cancellationToken).AsTask();
            server = await listener.AcceptSocketAsync(cancellationToken).AsTask().WaitAsync(s_connectLimit, cancellationToken).ConfigureAwait(false);
            server.NoDelay = true;
            await connect.WaitAsync(s_connectLimit, cancellationToken).ConfigureAwait(false);
            return new SocketPair(client, server);
        }
        catch
        {
            client.Dispose();
            server?.Dispose();
            throw;
        }
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary><paramref name="count"/> different free ports, none of them one of <paramref name="excluding"/> (a port that
    /// is taken already, which the OS may hand out again once its probe closed).</summary>
    public static int[] FreePorts(int count, params int[] excluding)
    {
        var ports = new HashSet<int>();
        while (ports.Count < count)
        {
            int port = FreePort();
            if (Array.IndexOf(excluding, port) < 0)
            {
                ports.Add(port);
            }
        }

        return [.. ports];
    }

    /// <summary>Closes with a TCP reset (RST) instead of a FIN.</summary>
    public static void Reset(Socket socket)
    {
        socket.LingerState = new LingerOption(true, 0);
        socket.Close();
    }
}
