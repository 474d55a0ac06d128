using System.Net;
using System.Net.Sockets;

namespace HeaderFraming.Tests.Infrastructure;

/// <summary>Connected TCP socket pairs on 127.0.0.1 (free ports, loopback only).</summary>
public static class Loopback
{
    public static async Task<(Socket Client, Socket Server)> ConnectedPairAsync()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var client = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        Task connect = client.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port);
        Socket server = await listener.AcceptSocketAsync();
        await connect;
        server.NoDelay = true;
        return (client, server);
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Closes with a TCP reset (RST) instead of a FIN.</summary>
    public static void Reset(Socket socket)
    {
        socket.LingerState = new LingerOption(true, 0);
        socket.Close();
    }
}
