using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using HeaderFraming.Protocols.Tests.Servers;
using HeaderFraming.Tests.Infrastructure;

namespace HeaderFraming.Protocols.Tests;

/// <summary>
/// The PROXY protocol v2 from a real haproxy (<c>send-proxy-v2</c>, see <see cref="HaproxyServer"/>): the backend receives a
/// 16-byte header (a 12-byte signature, version and command, family and transport, a 2-byte big-endian length at offset 14),
/// that many address bytes, and then the client's own bytes. Read here as raw bytes; a codec switch after the header is
/// issue 11's item 1.
/// <code>
/// +------- signature (12) -------+-0x21-+-0x11-+- len -+-src ip-+-dst ip-+-sport-+-dport-+--------------+
/// | \r\n\r\n\0\r\nQUIT\n          | v2 PROXY | TCP4 | 00 0C | 4      | 4      | 2     | 2     | client bytes |
/// +------------------------------+------+------+-------+--------+--------+-------+-------+--------------+
/// </code>
/// </summary>
public class HaproxyProxyProtocolTests
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(10);
    private static readonly byte[] s_signature = "\r\n\r\n\0\r\nQUIT\n"u8.ToArray();

    [RequiresProgramFact(HaproxyServer.Program, HaproxyServer.Package)]
    public async Task TheBackendGetsTheProxyHeaderWithTheClientsAddressThenTheClientsBytesAndNoOtherConnection()
    {
        // The backend listens before haproxy starts: a readiness probe that haproxy forwarded would be accepted first.
        using var backend = new TcpListener(IPAddress.Loopback, 0);
        backend.Start();
        int backendPort = ((IPEndPoint)backend.LocalEndpoint).Port;
        await using HaproxyServer haproxy = await HaproxyServer.StartAsync(backendPort);

        using var client = new TcpClient();
        await client.ConnectAsync(haproxy.EndPoint).WaitAsync(s_timeout);
        await client.GetStream().WriteAsync("hello"u8.ToArray()).AsTask().WaitAsync(s_timeout);
        var clientEnd = (IPEndPoint)client.Client.LocalEndPoint!;

        using Socket forwarded = await backend.AcceptSocketAsync().WaitAsync(s_timeout);
        byte[] header = await ReadExactlyAsync(forwarded, 16, haproxy);
        Assert.Equal(s_signature, header[..12]);
        Assert.Equal(0x21, header[12]); // version 2, command PROXY
        Assert.Equal(0x11, header[13]); // AF_INET, STREAM
        int addressLength = BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(14));
        Assert.Equal(12, addressLength); // IPv4 addresses and ports, no TLVs
        byte[] addresses = await ReadExactlyAsync(forwarded, addressLength, haproxy);
        Assert.Equal(clientEnd.Address.MapToIPv4(), new IPAddress(addresses[0..4]));
        Assert.Equal(IPAddress.Loopback, new IPAddress(addresses[4..8]));
        Assert.Equal(clientEnd.Port, BinaryPrimitives.ReadUInt16BigEndian(addresses.AsSpan(8)));
        Assert.Equal(haproxy.Port, BinaryPrimitives.ReadUInt16BigEndian(addresses.AsSpan(10)));
        Assert.Equal("hello"u8.ToArray(), await ReadExactlyAsync(forwarded, 5, haproxy));

        // The client's close reaches the backend as the end of the stream, and nothing else connected to the backend.
        client.Client.Shutdown(SocketShutdown.Send);
        Assert.Equal(0, await forwarded.ReceiveAsync(new byte[1]).WaitAsync(s_timeout));
        Assert.False(backend.Pending(), "a second connection reached the backend (a forwarded readiness probe?)");
    }

    private static async Task<byte[]> ReadExactlyAsync(Socket socket, int count, HaproxyServer haproxy)
    {
        byte[] buffer = new byte[count];
        int received = 0;
        while (received < count)
        {
            int read = await socket.ReceiveAsync(buffer.AsMemory(received)).AsTask().WaitAsync(s_timeout);
            Assert.True(read > 0, $"the backend's connection ended after {received} of {count} bytes.\n{haproxy.Logs()}");
            received += read;
        }

        return buffer;
    }
}
