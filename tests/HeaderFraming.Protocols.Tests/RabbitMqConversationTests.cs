using System.Buffers;
using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using HeaderFraming.Protocols.Tests.Servers;
using HeaderFraming.Tests.Infrastructure;

namespace HeaderFraming.Protocols.Tests;

/// <summary>A method frame's content: the channel, the class and method ids, and the arguments (copied out of the frame).</summary>
public readonly record struct AmqpMethod(ushort Channel, ushort ClassId, ushort MethodId, byte[] Arguments);

/// <summary>What Connection.Tune proposed (and Tune-Ok echoed): channel_max, frame_max (a whole frame: header, payload and
/// frame-end byte) and the heartbeat in seconds.</summary>
public readonly record struct AmqpTune(ushort ChannelMax, uint FrameMax, ushort Heartbeat);

/// <summary>
/// A whole AMQP 0-9-1 connection against the shared RabbitMQ node, every frame after the raw protocol header through
/// <see cref="Amqp.Codec"/>: the reader checks the frame-end byte 0xCE and leaves it out of the payload, the writer appends
/// it, and the header's type and channel are <see cref="Amqp.FrameType"/> and <see cref="Amqp.Channel"/>. The helpers
/// marked "docs/protocols.md" are pasted verbatim into that document (<see cref="ProtocolDocsTests"/>).
/// </summary>
[Collection(RabbitMqCollection.Name)]
public class RabbitMqConversationTests
{
    private const ushort ConnectionClass = 10;
    private readonly RabbitMqFixture _rabbit;

    public RabbitMqConversationTests(RabbitMqFixture rabbit) => _rabbit = rabbit;

    [RequiresProgramFact(RabbitMqServer.Program, RabbitMqServer.Package)]
    public async Task GuestOpensTheDefaultVhostWithRabbitMqsTuneAppliedToBothLimitsAndCloseGetsCloseOk()
    {
        RabbitMqServer server = _rabbit.Server;
        await using FramedConnection connection = await FramedConnection.ConnectAsync("127.0.0.1", server.Port, Amqp.Codec, AmqpOptions());

        AmqpTune tune = await OpenAsync(connection, RabbitMqServer.User, RabbitMqServer.Password, "/");

        // RabbitMQ 3.10's defaults (rabbit.app: frame_max 131072, heartbeat 60, channel_max 2047).
        Assert.Equal(131_072u, tune.FrameMax);
        Assert.Equal(60, tune.Heartbeat);
        Assert.Equal(2047, tune.ChannelMax);
        Assert.Equal(131_072 - 8, connection.MaxReceiveFrameLength); // frame_max counts the 7-byte header and the 0xCE
        Assert.Equal(131_072 - 8, connection.MaxSendFrameLength);

        // The send limit is live: a frame one byte over frame_max is refused before a byte of it is written, so the broker
        // sees nothing of it and the conversation goes on.
        var tooLong = Assert.Throws<ArgumentOutOfRangeException>(() =>
            { _ = SendMethodAsync(connection, 0, ConnectionClass, 50, new byte[131_072 - 8 - 4 + 1]); });
        Assert.Contains("send limit of 131,064 bytes", tooLong.Message, StringComparison.Ordinal);

        // Connection.Close: reply-code 200, reply-text "bye", class-id 0, method-id 0 (no method caused it).
        await SendMethodAsync(connection, 0, ConnectionClass, 50, [0x00, 200, 3, .. "bye"u8, 0, 0, 0, 0]);
        AmqpMethod closeOk = await ReadMethodAsync(connection);
        Assert.Equal((0, ConnectionClass, 51), (closeOk.Channel, closeOk.ClassId, closeOk.MethodId)); // Close-Ok
        Assert.Empty(closeOk.Arguments);

        // The side that sent Close closes the socket after Close-Ok (AMQP 0-9-1 §2.2.4). At our FIN the broker closes too,
        // with linger 0 (RabbitMQ's default tcp_listen_options), so the end is a reset, after every frame it sent.
        await connection.CompleteSendingAsync();
        var reset = await Assert.ThrowsAsync<IOException>(async () => await connection.ReadFrameAsync());
        Assert.Equal(SocketError.ConnectionReset, Assert.IsType<SocketException>(reset.InnerException).SocketErrorCode);
        Assert.Equal(ConnectionShutdownReason.Reset, connection.ShutdownReason);
        Assert.Equal(4, connection.FramesReceived); // Start, Tune, Open-Ok, Close-Ok: no heartbeat in between
    }

    [RequiresProgramFact(RabbitMqServer.Program, RabbitMqServer.Package)]
    public async Task ConnectionStartOffersPlainInVersion09AndTheFrameEndIsNotInThePayload()
    {
        RabbitMqServer server = _rabbit.Server;
        await using FramedConnection connection = await FramedConnection.ConnectAsync("127.0.0.1", server.Port, Amqp.Codec, AmqpOptions());
        await connection.SendRawAsync(Amqp.ProtocolHeader.ToArray());

        FrameReadResult result = await connection.ReadFrameAsync();
        Assert.True(result.HasFrame, $"RabbitMQ closed the connection instead of answering the protocol header.\n{server.Logs()}");
        Frame frame = result.Frame;
        Assert.Equal(Amqp.MethodFrame, frame.Read(Amqp.FrameType));
        Assert.Equal(0UL, frame.Read(Amqp.Channel));
        Assert.Equal(7, frame.HeaderLength);
        byte[] payload = frame.Payload.ToArray();
        Assert.Equal(BinaryPrimitives.ReadUInt32BigEndian(frame.Header.Slice(3, 4).ToArray()), (uint)payload.Length); // the size, without 0xCE
        Assert.Equal(frame.StreamOffset + 7 + payload.Length + 1, connection.BytesReceived); // the 0xCE was received and consumed
        Assert.Equal((ConnectionClass, 10), (BinaryPrimitives.ReadUInt16BigEndian(payload), BinaryPrimitives.ReadUInt16BigEndian(payload.AsSpan(2))));
        Assert.Equal([0, 9], payload[4..6]);
        Assert.NotEqual(Amqp.FrameEnd, payload[^1]); // the locales' last byte: "en_US"
        Assert.EndsWith("en_US", Encoding.ASCII.GetString(payload), StringComparison.Ordinal);
    }

    private static FramedConnectionOptions AmqpOptions()
    {
        var options = new FramedConnectionOptions();
        options.Reader.IdleTimeout = TimeSpan.FromSeconds(10); // a broker that goes silent fails the test with FrameTimeoutException
        return options;
    }

    // docs/protocols.md: AMQP 0-9-1, writing a method frame.
    static ValueTask SendMethodAsync(FramedConnection connection, ushort channel, ushort classId, ushort methodId, ReadOnlySpan<byte> arguments)
    {
        byte[] header = new byte[7];
        Amqp.FrameType.Write(header, Amqp.MethodFrame);                  // byte 0
        Amqp.Channel.Write(header, channel);                             // bytes 1-2; the codec writes the size (3-6)
        byte[] payload = new byte[4 + arguments.Length];
        BinaryPrimitives.WriteUInt16BigEndian(payload, classId);
        BinaryPrimitives.WriteUInt16BigEndian(payload.AsSpan(2), methodId);
        arguments.CopyTo(payload.AsSpan(4));
        return connection.SendAsync(header, payload);                   // the writer appends 0xCE
    }

    // docs/protocols.md: AMQP 0-9-1, reading a method frame.
    static async Task<AmqpMethod> ReadMethodAsync(FramedConnection connection)
    {
        while (true)
        {
            FrameReadResult result = await connection.ReadFrameAsync();  // a wrong frame-end byte: FrameFormatException
            if (!result.HasFrame) throw new EndOfStreamException("The broker closed the connection.");
            Frame frame = result.Frame;
            ulong type = frame.Read(Amqp.FrameType);
            if (type == Amqp.HeartbeatFrame) continue;
            if (type != Amqp.MethodFrame) throw new InvalidDataException($"Expected a method frame, got type {type}.");
            byte[] payload = frame.Payload.ToArray();                    // 0xCE is not in it; copy: valid until the next read
            return new AmqpMethod((ushort)frame.Read(Amqp.Channel), BinaryPrimitives.ReadUInt16BigEndian(payload),
                BinaryPrimitives.ReadUInt16BigEndian(payload.AsSpan(2)), payload[4..]);
        }
    }

    // docs/protocols.md: AMQP 0-9-1, the connection handshake.
    static async Task<AmqpTune> OpenAsync(FramedConnection connection, string user, string password, string vhost)
    {
        connection.MaxReceiveFrameLength = 4096 - 8;                     // frame-min-size until Tune says otherwise
        await connection.SendRawAsync(Amqp.ProtocolHeader.ToArray());    // "AMQP" 0 0 9 1, unframed

        await ExpectAsync(connection, 10, 10, "Connection.Start");
        var startOk = new ArrayBufferWriter<byte>();
        startOk.Write(new byte[4]);                           // client-properties: an empty table
        WriteShortString(startOk, "PLAIN");                              // mechanism
        byte[] response = Encoding.UTF8.GetBytes($"\0{user}\0{password}");
        BinaryPrimitives.WriteUInt32BigEndian(startOk.GetSpan(4), (uint)response.Length);
        startOk.Advance(4);
        startOk.Write(response);                                         // response: a long string
        WriteShortString(startOk, "en_US");                              // locale
        await SendMethodAsync(connection, 0, 10, 11, startOk.WrittenSpan);

        byte[] tune = await ExpectAsync(connection, 10, 30, "Connection.Tune");
        var proposal = new AmqpTune(BinaryPrimitives.ReadUInt16BigEndian(tune),
            BinaryPrimitives.ReadUInt32BigEndian(tune.AsSpan(2)), BinaryPrimitives.ReadUInt16BigEndian(tune.AsSpan(6)));
        connection.MaxReceiveFrameLength = proposal.FrameMax - 8;        // frame_max counts the header and the 0xCE
        connection.MaxSendFrameLength = proposal.FrameMax - 8;
        await SendMethodAsync(connection, 0, 10, 31, tune);              // Tune-Ok: accept channel_max, frame_max, heartbeat

        var open = new ArrayBufferWriter<byte>();
        WriteShortString(open, vhost);
        open.Write(new byte[2]);                                    // reserved: capabilities "", insist false
        await SendMethodAsync(connection, 0, 10, 40, open.WrittenSpan);
        await ExpectAsync(connection, 10, 41, "Connection.Open-Ok");
        return proposal;
    }

    private static async Task<byte[]> ExpectAsync(FramedConnection connection, ushort classId, ushort methodId, string name)
    {
        AmqpMethod method;
        try
        {
            method = await ReadMethodAsync(connection);
        }
        catch (EndOfStreamException e)
        {
            throw new EndOfStreamException($"The broker closed the connection where {name} was expected.", e);
        }

        if (method.Channel != 0 || method.ClassId != classId || method.MethodId != methodId)
        {
            throw new InvalidDataException($"Expected {name} ({classId}.{methodId}) on channel 0, got {method.ClassId}.{method.MethodId} on channel {method.Channel}.");
        }

        return method.Arguments;
    }

    private static void WriteShortString(ArrayBufferWriter<byte> writer, string value)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(value);
        writer.Write([(byte)bytes.Length]);
        writer.Write(bytes);
    }
}
