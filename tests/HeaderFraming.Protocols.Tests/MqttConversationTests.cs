using System.Buffers;
using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using HeaderFraming.Protocols.Tests.Servers;
using HeaderFraming.Tests.Infrastructure;

namespace HeaderFraming.Protocols.Tests;

/// <summary>
/// MQTT 3.1.1 against a real mosquitto, every packet through <see cref="Mqtt.Codec"/> (a control byte, then a remaining
/// length of 1 to 4 varint bytes) on a <see cref="FramedConnection"/>, the control byte read and written with
/// <see cref="Mqtt.PacketType"/> and <see cref="Mqtt.Flags"/>: a subscriber and a publisher, PUBLISH of a 1-byte and a
/// 1 MiB message at QoS 0 and QoS 1, delivered by the broker to the subscriber, which acknowledges its QoS 1 deliveries.
/// <code>
/// +- type:4 | flags:4 -+-- remaining length --+---------------------------------------+
/// |   0x3   |  0b0010  | 8B 80 40 (1,048,587) | 00 07 "hf/test" | 00 68 | 1 MiB     |
/// +--------------------+----------------------+---------------------------------------+
///   PUBLISH, QoS 1       3 varint bytes          topic, packet id, message
/// </code>
/// </summary>
public class MqttConversationTests
{
    private const int Connect = 1, ConnAck = 2, Publish = 3, PubAck = 4, Subscribe = 8, SubAck = 9, PingReq = 12, PingResp = 13, Disconnect = 14;
    private const string Topic = "hf/test";
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(10);

    [RequiresProgramFact(MosquittoServer.Program, MosquittoServer.Package)]
    public async Task PublishesOfOneByteAndOneMiBAtQos0AndQos1AreAcknowledgedAndDeliveredToTheSubscriberWhichAcknowledgesThem()
    {
        MosquittoServer broker = await MosquittoServer.StartAsync();
        await using (broker)
        {
            byte[] tiny = [0x5A];
            byte[] large = new byte[1024 * 1024];
            new Random(11).NextBytes(large);

            // The subscriber keeps its session (clean session 0), so the broker would resend unacknowledged deliveries.
            await using FramedConnection subscriber = await FramedConnection.ConnectAsync("127.0.0.1", broker.Port, Mqtt.Codec);
            Assert.Equal(0, await ConnectAsync(subscriber, "hf-sub", cleanSession: false, broker)); // CONNACK: no session yet
            await SendPacketAsync(subscriber, Subscribe, 0b0010, [0x00, 0x01, .. TopicFilter(Topic), 0x01]); // id 1, max QoS 1
            (int type, int flags, byte[] body) = await NextAsync(subscriber, broker);
            Assert.Equal((SubAck, 0), (type, flags));
            Assert.Equal(new byte[] { 0x00, 0x01, 0x01 }, body); // packet id 1, granted QoS 1

            await using FramedConnection publisher = await FramedConnection.ConnectAsync("127.0.0.1", broker.Port, Mqtt.Codec);
            Assert.Equal(0, await ConnectAsync(publisher, "hf-pub", cleanSession: true, broker));
            var sent = new (int Qos, byte[] Message)[] { (0, tiny), (0, large), (1, tiny), (1, large) };
            ushort packetId = 100;
            foreach ((int qos, byte[] message) in sent)
            {
                await PublishAsync(publisher, Topic, qos, ++packetId, message).AsTask().WaitAsync(s_timeout);
                if (qos == 1)
                {
                    (type, flags, body) = await NextAsync(publisher, broker);
                    Assert.Equal((PubAck, 0), (type, flags));
                    Assert.Equal(packetId, BinaryPrimitives.ReadUInt16BigEndian(body)); // the PUBACK names our packet id
                    Assert.Equal(2, body.Length);
                }
            }

            // Delivered in order, each at the QoS it was published with (the subscription allows up to 1), byte for byte.
            var deliveredIds = new HashSet<ushort>();
            foreach ((int qos, byte[] message) in sent)
            {
                (type, flags, body) = await NextAsync(subscriber, broker);
                Assert.Equal(Publish, type);
                Assert.Equal(qos << 1, flags); // DUP 0, QoS, RETAIN 0
                (string topic, ushort? id, ReadOnlyMemory<byte> payload) = ParsePublish(flags, body);
                Assert.Equal(Topic, topic);
                Assert.True(payload.Span.SequenceEqual(message), $"a {message.Length}-byte QoS {qos} message arrived as {payload.Length} different bytes");
                if (qos == 1)
                {
                    Assert.True(id is > 0 && deliveredIds.Add(id.Value), $"packet id {id} of a QoS 1 delivery is 0 or reused");
                    await SendPacketAsync(subscriber, PubAck, 0, IdBytes(id!.Value)); // the broker's QoS 1 delivery is ours to acknowledge
                }
                else
                {
                    Assert.Null(id);
                }
            }

            // The acknowledgements took: back with the same session, the broker resends nothing before answering a ping.
            await SendPacketAsync(subscriber, Disconnect, 0, []);
            Assert.True((await subscriber.ReadFrameAsync().AsTask().WaitAsync(s_timeout)).IsCompleted, "the broker should close after DISCONNECT");
            await using FramedConnection again = await FramedConnection.ConnectAsync("127.0.0.1", broker.Port, Mqtt.Codec);
            Assert.Equal(1, await ConnectAsync(again, "hf-sub", cleanSession: false, broker)); // CONNACK: session present
            await SendPacketAsync(again, PingReq, 0, []);
            (type, _, body) = await NextAsync(again, broker);
            Assert.True(type == PingResp, $"expected PINGRESP, got packet type {type} ({body.Length} bytes): an unacknowledged delivery was resent");
        }

        // The fixture stopped the broker: its port refuses.
        using var probe = new TcpClient();
        await Assert.ThrowsAsync<SocketException>(() => probe.ConnectAsync(broker.EndPoint).WaitAsync(s_timeout));
    }

    // An MQTT PUBLISH: the control byte is the caller's (type 3, QoS in the flags); Mqtt.Codec writes the remaining length.
    static ValueTask PublishAsync(FramedConnection connection, string topic, int qos, ushort packetId, ReadOnlyMemory<byte> message)
    {
        byte[] controlByte = new byte[1];
        Mqtt.PacketType.Write(controlByte, 3);                        // PUBLISH
        Mqtt.Flags.Write(controlByte, (ulong)(qos << 1));             // DUP 0, QoS, RETAIN 0
        byte[] name = Encoding.UTF8.GetBytes(topic);
        int idLength = qos > 0 ? 2 : 0;                               // a packet id only at QoS 1 and 2
        byte[] body = new byte[2 + name.Length + idLength + message.Length];
        BinaryPrimitives.WriteUInt16BigEndian(body, (ushort)name.Length);
        name.CopyTo(body, 2);
        if (qos > 0) BinaryPrimitives.WriteUInt16BigEndian(body.AsSpan(2 + name.Length), packetId);
        message.Span.CopyTo(body.AsSpan(2 + name.Length + idLength));
        return connection.SendAsync(controlByte, body);               // one frame: 30|32, remaining length, body
    }

    // Reading an MQTT packet: its type and flags from the control byte; the variable header and payload are the frame's payload.
    static async Task<(int Type, int Flags, byte[] Body)> ReadPacketAsync(FramedConnection connection)
    {
        FrameReadResult result = await connection.ReadFrameAsync();
        if (!result.HasFrame) throw new EndOfStreamException("the broker closed the connection");
        Frame packet = result.Frame;                                  // valid until the next read: copy what is kept
        return ((int)packet.Read(Mqtt.PacketType), (int)packet.Read(Mqtt.Flags), packet.Payload.ToArray());
    }

    /// <summary>CONNECT ("MQTT", level 4, keep-alive 60 s) and its CONNACK, which must accept; returns its session-present flag.</summary>
    private static async Task<int> ConnectAsync(FramedConnection connection, string clientId, bool cleanSession, MosquittoServer broker)
    {
        byte[] id = Encoding.UTF8.GetBytes(clientId);
        await SendPacketAsync(connection, Connect, 0, [0x00, 0x04, .. "MQTT"u8, 0x04, (byte)(cleanSession ? 0x02 : 0x00), 0x00, 0x3C, 0x00, (byte)id.Length, .. id]);
        (int type, int flags, byte[] body) = await NextAsync(connection, broker);
        Assert.Equal((ConnAck, 0), (type, flags));
        Assert.Equal(2, body.Length);
        Assert.True(body[1] == 0, $"CONNACK return code {body[1]} (0 is accepted)");
        return body[0];
    }

    private static async Task SendPacketAsync(FramedConnection connection, int type, int flags, byte[] body)
    {
        byte[] controlByte = new byte[1];
        Mqtt.PacketType.Write(controlByte, (ulong)type);
        Mqtt.Flags.Write(controlByte, (ulong)flags);
        await connection.SendAsync(controlByte, body).AsTask().WaitAsync(s_timeout);
    }

    private static async Task<(int Type, int Flags, byte[] Body)> NextAsync(FramedConnection connection, MosquittoServer broker)
    {
        try
        {
            return await ReadPacketAsync(connection).WaitAsync(s_timeout);
        }
        catch (EndOfStreamException e)
        {
            throw new EndOfStreamException($"{e.Message}.\n{broker.Logs()}", e);
        }
    }

    private static (string Topic, ushort? PacketId, ReadOnlyMemory<byte> Payload) ParsePublish(int flags, byte[] body)
    {
        int topicLength = BinaryPrimitives.ReadUInt16BigEndian(body);
        string topic = Encoding.UTF8.GetString(body, 2, topicLength);
        int offset = 2 + topicLength;
        ushort? id = null;
        if ((flags & 0b0110) != 0)
        {
            id = BinaryPrimitives.ReadUInt16BigEndian(body.AsSpan(offset));
            offset += 2;
        }

        return (topic, id, body.AsMemory(offset));
    }

    private static byte[] TopicFilter(string filter) => [0x00, (byte)filter.Length, .. Encoding.UTF8.GetBytes(filter)];

    private static byte[] IdBytes(ushort id) => [(byte)(id >> 8), (byte)id];
}
