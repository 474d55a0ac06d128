using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Text;
using HeaderFraming.Codecs;
using HeaderFraming.Protocols.Tests.Servers;
using HeaderFraming.Tests.Infrastructure;

namespace HeaderFraming.Protocols.Tests;

/// <summary>
/// A HeaderFraming server of the seed's ASCII-10 protocol behind a real haproxy (<c>send-proxy-v2</c>,
/// <see cref="HaproxyServer"/>): its connection's codec is <see cref="AsciiDecimalCodec.Default"/> from the start, and its
/// first read takes one frame of <see cref="ProxyProtocol.V2Codec"/> instead — haproxy's header, parsed by
/// <see cref="ProxyHeader.ParseV2(in Frame)"/> — so the client's frames after it, in the same TCP segment or not, are read
/// in the seed codec.
/// <code>
/// +------- signature (12) -------+-ver|cmd-+-fam|proto-+- len -+- src -+- dst -+-sport-+-dport-+-------------------+
/// | \r\n\r\n\0\r\nQUIT\n          |  0x21   |   0x11    | 00 0C |   4   |   4   |   2   |   2   | "5         hello" |
/// +------------------------------+---------+-----------+-------+-------+-------+-------+-------+-------------------+
///   ReadFrameAsync(ProxyProtocol.V2Codec): 16-byte header, 12-byte payload          the seed's frames (ReceiveCodec)
/// </code>
/// </summary>
public class HaproxyConversationTests
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(10);

    [RequiresProgramFact(HaproxyServer.Program, HaproxyServer.Package)]
    public async Task TheServerBehindHaproxyLearnsTheClientsRealEndPointFromTheProxyHeaderAndAnswersInTheSeedCodecByteForByte()
    {
        // The backend listens before haproxy starts: a readiness probe that haproxy forwarded would be accepted first.
        using var backend = new TcpListener(IPAddress.Loopback, 0);
        backend.Start();
        await using HaproxyServer haproxy = await HaproxyServer.StartAsync(((IPEndPoint)backend.LocalEndpoint).Port);

        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await client.ConnectAsync(haproxy.EndPoint).WaitAsync(s_timeout);
        var clientEnd = (IPEndPoint)client.LocalEndPoint!;
        await using FramedConnection seedClient = FramedConnection.Create(client, AsciiDecimalCodec.Default); // owns the socket: CompleteSendingAsync sends its FIN
        await seedClient.SendAsync("hello"u8.ToArray()); // sent at once: it may reach the backend with the PROXY header

        using Socket accepted = await backend.AcceptSocketAsync().WaitAsync(s_timeout);
        // The backend's own peer is haproxy (not compared with the client's port: Linux may give both connections one
        // ephemeral port, their destinations differ); only the PROXY header names the client.
        Task<ProxyHeader> serving = ServeBehindHaproxyAsync(accepted);

        // Byte for byte the seed's frames: a 10-byte left-aligned ASCII length, then the payload.
        string endPoint = clientEnd.ToString();
        Assert.Equal("22        Welcome to the server!", await ReadSeedFrameBytesAsync(seedClient, serving, haproxy));
        Assert.Equal($"{endPoint.Length,-10}{endPoint}", await ReadSeedFrameBytesAsync(seedClient, serving, haproxy));
        Assert.Equal("5         hello", await ReadSeedFrameBytesAsync(seedClient, serving, haproxy));
        await seedClient.SendAsync("a second frame"u8.ToArray());
        Assert.Equal("14        a second frame", await ReadSeedFrameBytesAsync(seedClient, serving, haproxy));

        // The client's FIN reaches the server as the end of its stream, between two frames; it then closes too.
        await seedClient.CompleteSendingAsync();
        ProxyHeader proxy = await serving.WaitAsync(s_timeout);
        Assert.Equal((2, ProxyCommand.Proxy, AddressFamily.InterNetwork, SocketType.Stream), (proxy.Version, proxy.Command, proxy.AddressFamily, proxy.SocketType));
        Assert.Equal(clientEnd, proxy.SourceEndPoint);
        Assert.Equal(haproxy.EndPoint, proxy.DestinationEndPoint);
        Assert.True(proxy.Tlvs.IsEmpty, "haproxy sent TLVs it was not configured to send");
        Assert.True((await seedClient.ReadFrameAsync().AsTask().WaitAsync(s_timeout)).IsCompleted, "the server should close after the client's FIN");
        Assert.False(backend.Pending(), "a second connection reached the backend (a forwarded readiness probe?)");
    }

    // Behind haproxy's send-proxy-v2: one frame of the PROXY v2 codec, then the connection's own codec (the seed's) as before.
    static async Task<ProxyHeader> ReadProxyHeaderAsync(FramedConnection connection)
    {
        FrameReadResult result = await connection.ReadFrameAsync(ProxyProtocol.V2Codec); // this read only
        if (!result.HasFrame) throw new EndOfStreamException("the proxy closed the connection before its PROXY header");
        return ProxyHeader.ParseV2(result.Frame);  // signature, version and command checked; the addresses parsed
    }

    // The seed's server behind haproxy: it greets the client, tells it its real endpoint, and echoes every frame.
    static async Task<ProxyHeader> ServeBehindHaproxyAsync(Socket accepted)
    {
        await using FramedConnection connection = FramedConnection.Create(accepted, AsciiDecimalCodec.Default);
        ProxyHeader proxy = await ReadProxyHeaderAsync(connection);
        EndPoint client = proxy.SourceEndPoint ?? accepted.RemoteEndPoint!;      // LOCAL (a health check): the proxy itself
        await connection.SendAsync("Welcome to the server!"u8.ToArray());
        await connection.SendAsync(Encoding.ASCII.GetBytes(client.ToString()!));
        await foreach (Frame frame in connection.ReadAllAsync())
        {
            await connection.SendAsync(frame.Payload.ToArray());
        }

        return proxy;
    }

    /// <summary>The next frame as the bytes on the wire, header included (ASCII); a fault of the server is thrown as it is.</summary>
    private static async Task<string> ReadSeedFrameBytesAsync(FramedConnection connection, Task serving, HaproxyServer haproxy)
    {
        Task<FrameReadResult> read = connection.ReadFrameAsync().AsTask();
        if (await Task.WhenAny(read, serving).WaitAsync(s_timeout) == serving && serving.IsFaulted)
        {
            await serving; // the server's own error (a bad PROXY header?), rather than a timeout here
        }

        FrameReadResult result = await read.WaitAsync(s_timeout);
        Assert.True(result.HasFrame, $"the connection through haproxy ended early.\n{haproxy.Logs()}");
        Assert.Equal(10, result.Frame.HeaderLength);
        return Encoding.ASCII.GetString([.. result.Frame.Header.ToArray(), .. result.Frame.Payload.ToArray()]);
    }
}
