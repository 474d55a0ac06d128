using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using HeaderFraming.Codecs;
using HeaderFraming.Protocols.Tests.Servers;
using HeaderFraming.Tests.Infrastructure;

namespace HeaderFraming.Protocols.Tests;

/// <summary>
/// MQTT 3.1.1 against a real mosquitto. A control packet is a control byte, a "remaining length" of 1 to 4 bytes (7 bits
/// each, the high bit meaning "more") and that many bytes. Until a codec frames the variable length after a prefix byte,
/// packets under 128 bytes are framed by a 1-byte length at offset 1 of a 2-byte header, which is the same bytes:
/// <code>
/// +-control-+-remaining length-+--------------------------+
/// |  0x20   |       0x02       |  0x00 0x00 (CONNACK: ok) |
/// +---------+------------------+--------------------------+
/// </code>
/// </summary>
public class MosquittoMqttTests
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(10);
    private static readonly BinaryLengthCodec s_shortPacket = new(1, Endianness.BigEndian, fieldOffset: 1, headerLength: 2);

    [RequiresProgramFact(MosquittoServer.Program, MosquittoServer.Package)]
    public async Task ConnectGetsConnAckAcceptedAndTheBrokerStopsWithItsFixture()
    {
        MosquittoServer broker = await MosquittoServer.StartAsync();
        await using (broker)
        {
            using var client = new TcpClient();
            await client.ConnectAsync(broker.EndPoint).WaitAsync(s_timeout);
            NetworkStream stream = client.GetStream();
            var writer = new FrameWriter(PipeWriter.Create(stream), s_shortPacket);
            var reader = new FrameReader(PipeReader.Create(stream), s_shortPacket);

            // CONNECT: protocol name "MQTT", level 4 (3.1.1), flags: clean session, keep-alive 60 s, client id "probe1".
            byte[] connect = [0x00, 0x04, .. "MQTT"u8, 0x04, 0x02, 0x00, 0x3C, 0x00, 0x06, .. "probe1"u8];
            writer.Write([0x10, 0x00], connect); // the codec writes the remaining length, 0x12
            await writer.FlushAsync().AsTask().WaitAsync(s_timeout);

            FrameReadResult result = await reader.ReadFrameAsync().AsTask().WaitAsync(s_timeout);
            Assert.True(result.HasFrame, $"mosquitto closed the connection instead of answering CONNECT.\n{broker.Logs()}");
            Assert.Equal(new byte[] { 0x20, 0x02 }, result.Frame.Header.ToArray()); // CONNACK, remaining length 2
            Assert.Equal(new byte[] { 0x00, 0x00 }, result.Frame.Payload.ToArray()); // no session present, accepted

            writer.Write([0xE0, 0x00], ReadOnlySpan<byte>.Empty); // DISCONNECT
            await writer.FlushAsync().AsTask().WaitAsync(s_timeout);
            FrameReadResult end = await reader.ReadFrameAsync().AsTask().WaitAsync(s_timeout);
            Assert.False(end.HasFrame, "the broker should close the connection after DISCONNECT");
            reader.Complete();
            writer.Complete();
        }

        using var probe = new TcpClient();
        await Assert.ThrowsAsync<SocketException>(() => probe.ConnectAsync(broker.EndPoint).WaitAsync(s_timeout));
    }
}
