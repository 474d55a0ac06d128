using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Text;
using HeaderFraming.Codecs;
using HeaderFraming.Tests.Infrastructure;

namespace HeaderFraming.Tests;

/// <summary>
/// DNS over TCP (RFC 1035 §4.2.2, RFC 7766: each message behind a 2-byte big-endian length) against a real dnsmasq, started on
/// 127.0.0.1 and a free port, answering <c>headerframing.test</c> with 10.1.2.3 and nothing else.
/// </summary>
public class DnsOverTcpTests
{
    private const string Name = "headerframing.test";
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(10);

    [RequiresProgramFact("dnsmasq", "dnsmasq-base")]
    public async Task AQueryFramedWithATwoByteLengthGetsTheAnswerFrameWithTheARecord()
    {
        using ServerProcess dnsmasq = await StartDnsmasqAsync();
        using var client = new TcpClient();
        await client.ConnectAsync(dnsmasq.EndPoint).WaitAsync(s_timeout);
        NetworkStream stream = client.GetStream();
        var writer = new FrameWriter(PipeWriter.Create(stream), BinaryLengthCodec.UInt16BigEndian);
        var reader = new FrameReader(PipeReader.Create(stream), BinaryLengthCodec.UInt16BigEndian);

        byte[] query = BuildQuery(0xBEEF, Name);
        await writer.WriteAsync(query).AsTask().WaitAsync(s_timeout);
        FrameReadResult result = await reader.ReadFrameAsync().AsTask().WaitAsync(s_timeout);

        // The frame is the 2-byte length and exactly that many bytes: the question echoed plus one answer record.
        Assert.Equal(2, result.Frame.Header.Length);
        Assert.Equal(result.Frame.Payload.Length, BinaryPrimitives.ReadUInt16BigEndian(result.Frame.Header.ToArray()));
        Assert.Equal(query.Length + 16, result.Frame.Payload.Length);
        DnsAnswer answer = ParseResponse(result.Frame.Payload.ToArray(), dnsmasq);
        Assert.Equal(0xBEEF, answer.Id);
        Assert.Equal(0, answer.ResponseCode);
        Assert.Equal([new byte[] { 10, 1, 2, 3 }], answer.ARecords);
        reader.Complete();
        writer.Complete();

        // The server the test started is gone with it: its port refuses connections.
        dnsmasq.Dispose();
        using var probe = new TcpClient();
        await Assert.ThrowsAsync<SocketException>(() => probe.ConnectAsync(dnsmasq.EndPoint).WaitAsync(s_timeout));
    }

    [RequiresProgramFact("dnsmasq", "dnsmasq-base")]
    public async Task PipelinedQueriesOnOneConnectionComeBackAsSeparateFrames()
    {
        // RFC 7766 §6.2.1: a client may send several queries without waiting; each answer is its own length-prefixed message.
        using ServerProcess dnsmasq = await StartDnsmasqAsync();
        using var client = new TcpClient();
        await client.ConnectAsync(dnsmasq.EndPoint).WaitAsync(s_timeout);
        NetworkStream stream = client.GetStream();
        var writer = new FrameWriter(PipeWriter.Create(stream), BinaryLengthCodec.UInt16BigEndian);
        var reader = new FrameReader(PipeReader.Create(stream), BinaryLengthCodec.UInt16BigEndian);

        ushort[] ids = [1, 2, 3];
        writer.Write(BuildQuery(ids[0], Name));
        writer.Write(BuildQuery(ids[1], "www." + Name));
        writer.Write(BuildQuery(ids[2], "deep.er." + Name));
        await writer.FlushAsync().AsTask().WaitAsync(s_timeout);

        var seen = new List<int>();
        for (int i = 0; i < ids.Length; i++)
        {
            FrameReadResult result = await reader.ReadFrameAsync().AsTask().WaitAsync(s_timeout);
            DnsAnswer answer = ParseResponse(result.Frame.Payload.ToArray(), dnsmasq);
            Assert.Equal([new byte[] { 10, 1, 2, 3 }], answer.ARecords);
            seen.Add(answer.Id);
        }

        Assert.Equal(ids.Select(id => (int)id).Order(), seen.Order());
        reader.Complete();
        writer.Complete();
    }

    private static Task<ServerProcess> StartDnsmasqAsync() => ServerProcess.StartAsync("dnsmasq", port =>
    [
        "--keep-in-foreground", "--no-daemon", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
        $"--address=/{Name}/10.1.2.3", $"--port={port}", "--listen-address=127.0.0.1", "--bind-interfaces",
        $"--user={Environment.UserName}", "--pid-file=",
    ], s_timeout);

    /// <summary>A standard query (RD set) for the A record of <paramref name="name"/>, built by hand (RFC 1035 §4.1).</summary>
    private static byte[] BuildQuery(ushort id, string name)
    {
        var query = new List<byte>();
        byte[] header = new byte[12];
        BinaryPrimitives.WriteUInt16BigEndian(header, id);
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(2), 0x0100); // RD
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(4), 1);      // QDCOUNT
        query.AddRange(header);
        foreach (string label in name.Split('.'))
        {
            query.Add((byte)label.Length);
            query.AddRange(Encoding.ASCII.GetBytes(label));
        }

        query.AddRange(new byte[] { 0, 0, 1, 0, 1 }); // root, QTYPE A, QCLASS IN
        return query.ToArray();
    }

    private static DnsAnswer ParseResponse(byte[] message, ServerProcess server)
    {
        Assert.True(message.Length >= 12, $"a {message.Length}-byte DNS message; dnsmasq said: {server.Output}");
        ushort id = BinaryPrimitives.ReadUInt16BigEndian(message);
        ushort flags = BinaryPrimitives.ReadUInt16BigEndian(message.AsSpan(2));
        Assert.True((flags & 0x8000) != 0, "QR is not set: not a response");
        int questions = BinaryPrimitives.ReadUInt16BigEndian(message.AsSpan(4));
        int answers = BinaryPrimitives.ReadUInt16BigEndian(message.AsSpan(6));
        int offset = 12;
        for (int i = 0; i < questions; i++)
        {
            offset = SkipName(message, offset) + 4;
        }

        var records = new List<byte[]>();
        for (int i = 0; i < answers; i++)
        {
            offset = SkipName(message, offset);
            ushort type = BinaryPrimitives.ReadUInt16BigEndian(message.AsSpan(offset));
            ushort @class = BinaryPrimitives.ReadUInt16BigEndian(message.AsSpan(offset + 2));
            int length = BinaryPrimitives.ReadUInt16BigEndian(message.AsSpan(offset + 8));
            offset += 10;
            if (type == 1 && @class == 1)
            {
                Assert.Equal(4, length);
                records.Add(message[offset..(offset + length)]);
            }

            offset += length;
        }

        Assert.Equal(message.Length, offset);
        return new DnsAnswer(id, flags & 0xF, records);
    }

    private static int SkipName(byte[] message, int offset)
    {
        while (true)
        {
            byte length = message[offset];
            if (length == 0)
            {
                return offset + 1;
            }

            if ((length & 0xC0) == 0xC0)
            {
                return offset + 2; // compression pointer
            }

            offset += 1 + length;
        }
    }

    private sealed record DnsAnswer(int Id, int ResponseCode, List<byte[]> ARecords);
}
