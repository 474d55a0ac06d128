using System;
using System.Net.Sockets;

namespace HeaderFraming.Testing;

/// <summary>The two ends of a connection made by <see cref="Loopback"/>: <c>using</c> it closes both, and it deconstructs
/// into <c>(Socket client, Socket server)</c> for a test that hands the ends to the objects it tests.</summary>
public sealed class SocketPair : IDisposable
{
    public SocketPair(Socket client, Socket server)
    {
        Client = client;
        Server = server;
    }

    public Socket Client { get; }

    public Socket Server { get; }

    public void Deconstruct(out Socket client, out Socket server)
    {
        client = Client;
        server = Server;
    }

    public void Dispose()
    {
        Client.Dispose();
        Server.Dispose();
    }
}
