using System.IO.Pipes;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using HeaderFraming.Testing;
using HeaderFraming.Transports.IO;

namespace HeaderFraming.Tests.Connections;

/// <summary>
/// Which streams honour a zero-byte read (it waits for data instead of returning 0 at once): the connection waits for data
/// that way, holding no buffer, only on those (<see cref="StreamTransportIO.HonoursZeroByteReads"/>). The table in the
/// README comes from these tests.
/// </summary>
public sealed class ZeroByteReadTests
{
    private static readonly TimeSpan s_settle = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan s_limit = TimeSpan.FromSeconds(20);

    /// <summary>Starts a zero-byte read and tells whether it waited for data, then lets data arrive. A read expected to wait
    /// must still be waiting after a while (<see cref="s_settle"/>); one expected to return without data is given up to
    /// <see cref="s_limit"/> to do so, so that a loaded machine running its continuation late cannot make it look like a
    /// wait.</summary>
    private static async Task<bool> ZeroByteReadWaitsAsync(Stream reader, Func<Task> sendOneByte, bool expectedToWait)
    {
        Task<int> read = reader.ReadAsync(Memory<byte>.Empty).AsTask();
        bool waited;
        if (expectedToWait)
        {
            await Task.Delay(s_settle);
            waited = !read.IsCompleted;
        }
        else
        {
            waited = await Task.WhenAny(read, Task.Delay(s_limit)) != read;
        }

        await sendOneByte();
        Assert.Equal(0, await read.WaitAsync(s_limit));

        // The byte is still there for the next real read.
        byte[] one = new byte[1];
        Assert.Equal(1, await reader.ReadAsync(one).AsTask().WaitAsync(s_limit));
        return waited;
    }

    [Fact]
    public async Task ASocketsZeroByteReceiveWaitsForData()
    {
        (Socket client, Socket server) = await Loopback.ConnectedPairAsync();
        using (client)
        using (server)
        {
            ValueTask<int> receive = server.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None);
            await Task.Delay(s_settle);
            Assert.False(receive.IsCompleted);
            await client.SendAsync(new byte[] { 1 });
            Assert.Equal(0, await receive.AsTask().WaitAsync(s_limit));
        }
    }

    [Fact]
    public async Task ANetworkStreamHonoursZeroByteReads()
    {
        (Socket client, Socket server) = await Loopback.ConnectedPairAsync();
        using var clientStream = new NetworkStream(client, ownsSocket: true);
        using var serverStream = new NetworkStream(server, ownsSocket: true);
        Assert.True(await ZeroByteReadWaitsAsync(serverStream, () => clientStream.WriteAsync(new byte[] { 1 }).AsTask(), expectedToWait: true));
        Assert.True(StreamTransportIO.HonoursZeroByteReads(serverStream));
    }

    [Fact]
    public async Task AnSslStreamOverANetworkStreamHonoursZeroByteReads()
    {
        (Socket client, Socket server) = await Loopback.ConnectedPairAsync();
        using X509Certificate2 certificate = SelfSignedCertificate.Create();
        using var clientSsl = new SslStream(new NetworkStream(client, ownsSocket: true), false, (_, _, _, _) => true);
        using var serverSsl = new SslStream(new NetworkStream(server, ownsSocket: true));
        await Task.WhenAll(
            clientSsl.AuthenticateAsClientAsync("localhost"),
            serverSsl.AuthenticateAsServerAsync(certificate)).WaitAsync(s_limit);
        Assert.True(await ZeroByteReadWaitsAsync(serverSsl, async () =>
        {
            await clientSsl.WriteAsync(new byte[] { 1 });
            await clientSsl.FlushAsync();
        }, expectedToWait: true));
#if HEADERFRAMING_NETSTANDARD
        // The netstandard2.0 build reads an SslStream with a buffer: it cannot tell whether the runtime's SslStream passes a
        // zero-byte read on to its inner stream (.NET 8's does, as above; the .NET Framework and older .NET that load this
        // build may not), and a zero-byte read that returns at once would cost a call per read.
        Assert.False(StreamTransportIO.HonoursZeroByteReads(serverSsl));
#else
        Assert.True(StreamTransportIO.HonoursZeroByteReads(serverSsl));
#endif
    }

    [Fact]
    public async Task ABufferedStreamReturnsAtOnceSoTheConnectionReadsItWithABuffer()
    {
        (Socket client, Socket server) = await Loopback.ConnectedPairAsync();
        using var clientStream = new NetworkStream(client, ownsSocket: true);
        using var buffered = new BufferedStream(new NetworkStream(server, ownsSocket: true));
        Assert.False(await ZeroByteReadWaitsAsync(buffered, () => clientStream.WriteAsync(new byte[] { 1 }).AsTask(), expectedToWait: false));
        Assert.False(StreamTransportIO.HonoursZeroByteReads(buffered));
    }

    [Fact]
    public async Task AnAnonymousPipeStreamReturnsAtOnceSoTheConnectionReadsItWithABuffer()
    {
        using var server = new AnonymousPipeServerStream(PipeDirection.In);
        using var client = new AnonymousPipeClientStream(PipeDirection.Out, server.ClientSafePipeHandle);
        Assert.False(await ZeroByteReadWaitsAsync(server, () => client.WriteAsync(new byte[] { 1 }).AsTask(), expectedToWait: false));
        Assert.False(StreamTransportIO.HonoursZeroByteReads(server));
    }
}
