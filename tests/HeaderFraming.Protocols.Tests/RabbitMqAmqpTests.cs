using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Text;
using HeaderFraming.Codecs;
using HeaderFraming.Protocols.Tests.Servers;
using HeaderFraming.Tests.Infrastructure;

namespace HeaderFraming.Protocols.Tests;

/// <summary>
/// AMQP 0-9-1 against a real RabbitMQ node, shared by the tests of <see cref="RabbitMqCollection"/>. The client sends the
/// 8-byte protocol header raw; every frame after it is a 7-byte header (type, channel, a 4-byte big-endian size at offset
/// 3), the payload and the frame-end byte 0xCE. Until a codec validates a trailer, a length adjustment of +1 frames the
/// frame-end byte as the payload's last byte:
/// <code>
/// +-type-+-channel-+--- size: u32 ---+------------------------+-end--+
/// | 0x01 |  00 00  |  00 00 01 F1    |  497 bytes: the method |  CE  |
/// +------+---------+-----------------+------------------------+------+
/// </code>
/// </summary>
[Collection(RabbitMqCollection.Name)]
public class RabbitMqAmqpTests
{
    private const byte FrameEnd = 0xCE;
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(10);
    private static readonly BinaryLengthCodec s_frameWithEnd = new(4, Endianness.BigEndian, fieldOffset: 3, headerLength: 7, lengthAdjustment: 1);
    private readonly RabbitMqFixture _rabbit;

    public RabbitMqAmqpTests(RabbitMqFixture rabbit) => _rabbit = rabbit;

    [RequiresProgramFact(RabbitMqServer.Program, RabbitMqServer.Package)]
    public async Task TheProtocolHeaderGetsConnectionStartWithVersion09AndPlainAmongTheMechanisms()
    {
        RabbitMqServer server = _rabbit.Server;
        using var client = new TcpClient();
        await client.ConnectAsync(server.EndPoint).WaitAsync(s_timeout);
        NetworkStream stream = client.GetStream();
        await stream.WriteAsync("AMQP\0\0\x09\x01"u8.ToArray()).AsTask().WaitAsync(s_timeout);
        var reader = new FrameReader(PipeReader.Create(stream), s_frameWithEnd);

        FrameReadResult result = await reader.ReadFrameAsync().AsTask().WaitAsync(s_timeout);
        Assert.True(result.HasFrame, $"RabbitMQ closed the connection instead of answering the protocol header.\n{server.Logs()}");
        byte[] header = result.Frame.Header.ToArray();
        byte[] payload = result.Frame.Payload.ToArray();
        Assert.Equal(1, header[0]); // a method frame
        Assert.Equal(0, BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(1))); // on channel 0
        Assert.Equal(FrameEnd, payload[^1]);
        Assert.Equal(10, BinaryPrimitives.ReadUInt16BigEndian(payload)); // class connection
        Assert.Equal(10, BinaryPrimitives.ReadUInt16BigEndian(payload.AsSpan(2))); // method start
        Assert.Equal([0, 9], payload[4..6]); // version-major, version-minor

        int offset = 6;
        int tableLength = (int)BinaryPrimitives.ReadUInt32BigEndian(payload.AsSpan(offset));
        string serverProperties = Encoding.UTF8.GetString(payload, offset + 4, tableLength);
        Assert.Contains("RabbitMQ", serverProperties, StringComparison.Ordinal); // the "product" property
        offset += 4 + tableLength;
        string mechanisms = LongString(payload, ref offset);
        Assert.Contains("PLAIN", mechanisms.Split(' '));
        string locales = LongString(payload, ref offset);
        Assert.Contains("en_US", locales, StringComparison.Ordinal);
        Assert.Equal(payload.Length - 1, offset); // nothing between the arguments and the frame end
        reader.Complete();
    }

    [RequiresProgramFact(RabbitMqServer.Program, RabbitMqServer.Package)]
    public async Task AnUnsupportedProtocolHeaderGetsTheSupportedOneBackAndTheConnectionClosed()
    {
        // AMQP 0-9-1 §4.2.2: a server that does not speak the version asked for answers with the header it does speak, then closes.
        RabbitMqServer server = _rabbit.Server;
        using var client = new TcpClient();
        await client.ConnectAsync(server.EndPoint).WaitAsync(s_timeout);
        NetworkStream stream = client.GetStream();
        await stream.WriteAsync("AMQP\0\x01\x01\x01"u8.ToArray()).AsTask().WaitAsync(s_timeout);

        // RabbitMQ closes with a reset after its answer (the reset cannot overtake the bytes already received).
        byte[] answer = new byte[16];
        int received = 0;
        try
        {
            int read;
            while ((read = await stream.ReadAsync(answer.AsMemory(received)).AsTask().WaitAsync(s_timeout)) > 0)
            {
                received += read;
            }
        }
        catch (IOException e) when (e.InnerException is SocketException { SocketErrorCode: SocketError.ConnectionReset })
        {
        }

        Assert.Equal("AMQP\0\0\x09\x01"u8.ToArray(), answer[..received]);
    }

    private static string LongString(byte[] payload, ref int offset)
    {
        int length = (int)BinaryPrimitives.ReadUInt32BigEndian(payload.AsSpan(offset));
        string value = Encoding.UTF8.GetString(payload, offset + 4, length);
        offset += 4 + length;
        return value;
    }
}
