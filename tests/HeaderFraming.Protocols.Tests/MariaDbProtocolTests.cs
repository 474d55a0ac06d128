using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using HeaderFraming.Codecs;
using HeaderFraming.Protocols.Tests.Servers;
using HeaderFraming.Tests.Infrastructure;

namespace HeaderFraming.Protocols.Tests;

/// <summary>
/// The MySQL/MariaDB client/server protocol against a real MariaDB. A packet is a 3-byte little-endian payload length and a
/// sequence id, framed by <c>new BinaryLengthCodec(3, Endianness.LittleEndian, headerLength: 4)</c>; the sequence id is the
/// header's fourth byte, written by the caller and read from <see cref="Frame.Header"/>.
/// <code>
/// +-- len: u24 LE --+-seq-+-----------------------------+
/// |   0x64 0x00 0x00 | 0x00 | 100 bytes: the handshake   |
/// +------------------+------+----------------------------+
/// </code>
/// </summary>
public class MariaDbProtocolTests
{
    private const uint ClientLongPassword = 0x1;
    private const uint ClientProtocol41 = 0x200;
    private const uint ClientSecureConnection = 0x8000;
    private const uint ClientPluginAuth = 0x80000;
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(10);
    private static readonly BinaryLengthCodec s_packet = new(3, Endianness.LittleEndian, headerLength: 4);

    [RequiresProgramFact(MariaDbServer.Program, MariaDbServer.Package)]
    public async Task TheServersHandshakeIsProtocol10WithTheServersVersionThenTheTestUserLogsIn()
    {
        await using MariaDbServer server = await MariaDbServer.StartAsync();
        string version = (await server.ExecuteSqlAsRootAsync("SELECT VERSION()")).Trim();
        Assert.Contains("MariaDB", version, StringComparison.Ordinal);

        using var client = new TcpClient();
        await client.ConnectAsync(server.EndPoint).WaitAsync(s_timeout);
        NetworkStream stream = client.GetStream();
        var writer = new FrameWriter(PipeWriter.Create(stream), s_packet);
        var reader = new FrameReader(PipeReader.Create(stream), s_packet);

        // The server speaks first: the initial handshake (protocol version 10), sequence id 0.
        (byte sequence, byte[] handshake) = await ReadPacketAsync(reader, server);
        Assert.Equal(0, sequence);
        Assert.Equal(10, handshake[0]);
        int versionEnd = Array.IndexOf(handshake, (byte)0, 1);
        // MariaDB prefixes its version with "5.5.5-" for old clients that parse the major version.
        Assert.Equal("5.5.5-" + version, Encoding.ASCII.GetString(handshake, 1, versionEnd - 1));
        Handshake hello = ParseHandshake(handshake, versionEnd + 1);
        Assert.Equal("mysql_native_password", hello.AuthPlugin);
        Assert.True((hello.Capabilities & ClientProtocol41) != 0);

        // The handshake response (sequence id 1) for the fixture's test user, mysql_native_password.
        uint capabilities = ClientLongPassword | ClientProtocol41 | ClientSecureConnection | ClientPluginAuth;
        var response = new List<byte>();
        response.AddRange(LittleEndian(capabilities));
        response.AddRange(LittleEndian(MariaDbServer.MaxAllowedPacket));
        response.Add(45); // utf8mb4_general_ci
        response.AddRange(new byte[23]);
        response.AddRange([.. Encoding.ASCII.GetBytes(MariaDbServer.User), 0]);
        byte[] token = NativePasswordToken(MariaDbServer.Password, hello.Scramble);
        response.Add((byte)token.Length);
        response.AddRange(token);
        response.AddRange([.. "mysql_native_password"u8, 0]);
        writer.Write([0, 0, 0, 1], response.ToArray());
        await writer.FlushAsync().AsTask().WaitAsync(s_timeout);

        (byte okSequence, byte[] ok) = await ReadPacketAsync(reader, server);
        Assert.True(ok[0] == 0x00, $"expected an OK packet, got {Describe(ok)}");
        Assert.Equal(2, okSequence);

        // COM_QUERY (a new command: sequence id 0): the server says who we are.
        writer.Write([0, 0, 0, 0], [0x03, .. "SELECT CURRENT_USER()"u8]);
        await writer.FlushAsync().AsTask().WaitAsync(s_timeout);
        (_, byte[] columnCount) = await ReadPacketAsync(reader, server);
        Assert.Equal([1], columnCount);
        await ReadPacketAsync(reader, server); // the column definition
        (_, byte[] eof) = await ReadPacketAsync(reader, server);
        Assert.Equal(0xFE, eof[0]);
        (byte rowSequence, byte[] row) = await ReadPacketAsync(reader, server);
        Assert.Equal(4, rowSequence);
        Assert.Equal($"{MariaDbServer.User}@127.0.0.1", Encoding.ASCII.GetString(row, 1, row[0])); // a length-encoded string
        reader.Complete();
        writer.Complete();
    }

    private static async Task<(byte Sequence, byte[] Payload)> ReadPacketAsync(FrameReader reader, MariaDbServer server)
    {
        FrameReadResult result = await reader.ReadFrameAsync().AsTask().WaitAsync(s_timeout);
        Assert.True(result.HasFrame, $"MariaDB closed the connection.\n{server.Logs()}");
        return (result.Frame.Header.ToArray()[3], result.Frame.Payload.ToArray());
    }

    /// <summary>The rest of a protocol-10 handshake after the server version's NUL.</summary>
    private static Handshake ParseHandshake(byte[] packet, int offset)
    {
        offset += 4; // connection id
        byte[] scramble = packet[offset..(offset + 8)];
        offset += 8 + 1; // auth-plugin-data part 1, filler
        uint capabilities = BinaryPrimitives.ReadUInt16LittleEndian(packet.AsSpan(offset));
        offset += 2 + 1 + 2; // capabilities (low), character set, status flags
        capabilities |= (uint)BinaryPrimitives.ReadUInt16LittleEndian(packet.AsSpan(offset)) << 16;
        offset += 2;
        int authDataLength = packet[offset];
        offset += 1 + 10; // length of the auth-plugin data, reserved (MariaDB: 6 filler, 4 extended capabilities)
        int part2 = Math.Max(13, authDataLength - 8);
        scramble = [.. scramble, .. packet[offset..(offset + part2 - 1)]]; // without its trailing NUL
        offset += part2;
        int pluginEnd = Array.IndexOf(packet, (byte)0, offset);
        return new Handshake(capabilities, scramble, Encoding.ASCII.GetString(packet, offset, (pluginEnd < 0 ? packet.Length : pluginEnd) - offset));
    }

    /// <summary>mysql_native_password: SHA1(password) XOR SHA1(scramble + SHA1(SHA1(password))).</summary>
    private static byte[] NativePasswordToken(string password, byte[] scramble)
    {
        byte[] stage1 = SHA1.HashData(Encoding.UTF8.GetBytes(password));
#pragma warning disable CA5350 // SHA-1 is what the protocol specifies
        byte[] stage2 = SHA1.HashData(stage1);
        byte[] mix = SHA1.HashData([.. scramble, .. stage2]);
#pragma warning restore CA5350
        for (int i = 0; i < mix.Length; i++)
        {
            mix[i] ^= stage1[i];
        }

        return mix;
    }

    private static byte[] LittleEndian(uint value)
    {
        byte[] bytes = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, value);
        return bytes;
    }

    private static byte[] LittleEndian(int value) => LittleEndian((uint)value);

    private static string Describe(byte[] packet)
        => packet.Length > 3 && packet[0] == 0xFF
            ? $"error {BinaryPrimitives.ReadUInt16LittleEndian(packet.AsSpan(1))}: {Encoding.UTF8.GetString(packet, 3, packet.Length - 3)}"
            : Convert.ToHexString(packet);

    private sealed record Handshake(uint Capabilities, byte[] Scramble, string AuthPlugin);
}
