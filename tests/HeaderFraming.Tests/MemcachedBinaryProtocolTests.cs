using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Text;
using HeaderFraming.Codecs;
using HeaderFraming.Tests.Infrastructure;

namespace HeaderFraming.Tests;

/// <summary>
/// memcached's binary protocol against a real memcached on 127.0.0.1 and a free port: a 24-byte header whose "total body
/// length" is a 4-byte big-endian field at offset 8, framed by
/// <c>new BinaryLengthCodec(4, Endianness.BigEndian, fieldOffset: 8, headerLength: 24)</c>. The other header bytes (magic,
/// opcode, status, opaque) are written with <see cref="FrameWriter.Write(ReadOnlySpan{byte}, ReadOnlySpan{byte})"/> and read
/// from <see cref="Frame.Header"/>.
/// </summary>
public class MemcachedBinaryProtocolTests
{
    private const byte RequestMagic = 0x80;
    private const byte ResponseMagic = 0x81;
    private const byte OpGet = 0x00;
    private const byte OpSet = 0x01;
    private const ushort StatusOk = 0x0000;
    private const ushort StatusKeyNotFound = 0x0001;
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(10);
    private static readonly BinaryLengthCodec s_codec = new(4, Endianness.BigEndian, fieldOffset: 8, headerLength: 24);

    [RequiresProgramFact("memcached", "memcached")]
    public async Task SetThenGetAKeyThroughTheFixedHeaderCodec()
    {
        using ServerProcess memcached = await StartMemcachedAsync();
        await using var connection = await Connection.OpenAsync(memcached);
        byte[] key = Encoding.ASCII.GetBytes("headerframing:key");
        byte[] value = Encoding.UTF8.GetBytes("Welcome to the server! ✓");

        // set: extras are flags (4) and expiration (4), then the key, then the value.
        byte[] extras = new byte[8];
        BinaryPrimitives.WriteUInt32BigEndian(extras, 0xCAFEF00D);
        connection.Writer.Write(RequestHeader(OpSet, key.Length, extras.Length, opaque: 0x11111111), [.. extras, .. key, .. value]);
        await connection.Writer.FlushAsync().AsTask().WaitAsync(s_timeout);
        (byte[] setHeader, byte[] setBody) = await connection.ReadAsync();
        Assert.Equal(ResponseMagic, setHeader[0]);
        Assert.Equal(OpSet, setHeader[1]);
        Assert.Equal(StatusOk, BinaryPrimitives.ReadUInt16BigEndian(setHeader.AsSpan(6)));
        Assert.Equal(0x11111111u, BinaryPrimitives.ReadUInt32BigEndian(setHeader.AsSpan(12)));
        Assert.NotEqual(0ul, BinaryPrimitives.ReadUInt64BigEndian(setHeader.AsSpan(16))); // CAS
        Assert.Empty(setBody);

        connection.Writer.Write(RequestHeader(OpGet, key.Length, 0, opaque: 0x22222222), key);
        await connection.Writer.FlushAsync().AsTask().WaitAsync(s_timeout);
        (byte[] getHeader, byte[] getBody) = await connection.ReadAsync();
        Assert.Equal(ResponseMagic, getHeader[0]);
        Assert.Equal(OpGet, getHeader[1]);
        Assert.Equal(StatusOk, BinaryPrimitives.ReadUInt16BigEndian(getHeader.AsSpan(6)));
        Assert.Equal(4, getHeader[4]); // extras: the flags
        Assert.Equal(0x22222222u, BinaryPrimitives.ReadUInt32BigEndian(getHeader.AsSpan(12)));
        Assert.Equal(4 + value.Length, (int)BinaryPrimitives.ReadUInt32BigEndian(getHeader.AsSpan(8)));
        Assert.Equal(0xCAFEF00Du, BinaryPrimitives.ReadUInt32BigEndian(getBody));
        Assert.Equal(value, getBody[4..]);
    }

    [RequiresProgramFact("memcached", "memcached")]
    public async Task PipelinedRequestsGetTheirResponsesInOrderWithTheStatusInTheHeader()
    {
        using ServerProcess memcached = await StartMemcachedAsync();
        await using var connection = await Connection.OpenAsync(memcached);
        byte[] key = Encoding.ASCII.GetBytes("headerframing:big");
        byte[] value = new byte[200_000]; // larger than a socket read: the frame arrives in many pieces
        new Random(6).NextBytes(value);

        connection.Writer.Write(RequestHeader(OpGet, key.Length, 0, opaque: 1), key);
        connection.Writer.Write(RequestHeader(OpSet, key.Length, 8, opaque: 2), [.. new byte[8], .. key, .. value]);
        connection.Writer.Write(RequestHeader(OpGet, key.Length, 0, opaque: 3), key);
        await connection.Writer.FlushAsync().AsTask().WaitAsync(s_timeout);

        (byte[] missHeader, byte[] missBody) = await connection.ReadAsync();
        Assert.Equal(StatusKeyNotFound, BinaryPrimitives.ReadUInt16BigEndian(missHeader.AsSpan(6)));
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32BigEndian(missHeader.AsSpan(12)));
        Assert.Equal("Not found", Encoding.ASCII.GetString(missBody));

        (byte[] setHeader, _) = await connection.ReadAsync();
        Assert.Equal(StatusOk, BinaryPrimitives.ReadUInt16BigEndian(setHeader.AsSpan(6)));
        Assert.Equal(2u, BinaryPrimitives.ReadUInt32BigEndian(setHeader.AsSpan(12)));

        (byte[] hitHeader, byte[] hitBody) = await connection.ReadAsync();
        Assert.Equal(StatusOk, BinaryPrimitives.ReadUInt16BigEndian(hitHeader.AsSpan(6)));
        Assert.Equal(3u, BinaryPrimitives.ReadUInt32BigEndian(hitHeader.AsSpan(12)));
        Assert.Equal(value, hitBody[4..]);
    }

    private static Task<ServerProcess> StartMemcachedAsync()
    {
        var common = new List<string> { "-l", "127.0.0.1", "-U", "0", "-t", "1" };
        if (Environment.UserName == "root")
        {
            common.AddRange(["-u", "root"]); // memcached refuses to run as root without it
        }

        return ServerProcess.StartAsync("memcached", port => [.. common, "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture)], s_timeout);
    }

    /// <summary>A request header with the length field left for the codec to fill.</summary>
    private static byte[] RequestHeader(byte opcode, int keyLength, int extrasLength, uint opaque)
    {
        byte[] header = new byte[24];
        header[0] = RequestMagic;
        header[1] = opcode;
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(2), (ushort)keyLength);
        header[4] = (byte)extrasLength;
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(8), 0xDEADBEEF); // must be overwritten by the codec
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(12), opaque);
        return header;
    }

    private sealed class Connection : IAsyncDisposable
    {
        private readonly TcpClient _client;

        private Connection(TcpClient client)
        {
            _client = client;
            NetworkStream stream = client.GetStream();
            Writer = new FrameWriter(PipeWriter.Create(stream), s_codec);
            Reader = new FrameReader(PipeReader.Create(stream), s_codec);
        }

        public FrameWriter Writer { get; }

        public FrameReader Reader { get; }

        public static async Task<Connection> OpenAsync(ServerProcess server)
        {
            var client = new TcpClient();
            await client.ConnectAsync(server.EndPoint).WaitAsync(s_timeout);
            return new Connection(client);
        }

        public async Task<(byte[] Header, byte[] Body)> ReadAsync()
        {
            FrameReadResult result = await Reader.ReadFrameAsync().AsTask().WaitAsync(s_timeout);
            Assert.True(result.HasFrame, "memcached closed the connection");
            return (result.Frame.Header.ToArray(), result.Frame.Payload.ToArray());
        }

        public ValueTask DisposeAsync()
        {
            Reader.Complete();
            Writer.Complete();
            _client.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
