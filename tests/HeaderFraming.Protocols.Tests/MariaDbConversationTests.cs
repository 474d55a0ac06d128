using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using HeaderFraming.Protocols.Tests.Servers;
using HeaderFraming.Tests.Infrastructure;

namespace HeaderFraming.Protocols.Tests;

/// <summary>
/// The MySQL/MariaDB client/server protocol against a real MariaDB (one server for the class, <see cref="MariaDbFixture"/>),
/// every packet through <see cref="MySql.Codec"/> (a 3-byte little-endian length, then the sequence id) on a
/// <see cref="FramedConnection"/>, whole messages through <see cref="MySqlPacketReader"/>, which checks every sequence id
/// and joins continuation packets. The driver resets the expected id at each command, as MySQL requires.
/// <code>
/// +-- len: u24 LE --+-seq-+------------------------------------------+
/// |    FF FF FF     | 04  | FE, 8-byte length 20 MiB, 16,777,206 'x' |   a payload of 0xFFFFFF bytes continues
/// |    0A 00 40     | 05  | 4,194,314 'x'                            |   in the next packet, sequence id + 1
/// +-----------------+-----+------------------------------------------+
/// </code>
/// </summary>
public class MariaDbConversationTests : IClassFixture<MariaDbFixture>
{
    private const uint ClientLongPassword = 0x1;
    private const uint ClientProtocol41 = 0x200;
    private const uint ClientSecureConnection = 0x8000;
    private const uint ClientPluginAuth = 0x80000;
    private const int Row = 20 * 1024 * 1024;
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(15);
    private readonly MariaDbServer _server;

    public MariaDbConversationTests(MariaDbFixture fixture) => _server = fixture.Server;

    [RequiresProgramFact(MariaDbServer.Program, MariaDbServer.Package)]
    public async Task TheHandshakeIsProtocol10AndTheTestUserLogsInWithMysqlNativePasswordButNotWithAWrongOne()
    {
        string version = (await _server.ExecuteSqlAsRootAsync("SELECT VERSION()")).Trim();
        (FramedConnection connection, MySqlPacketReader packets) = await OpenAsync("127.0.0.1", _server.Port);
        await using (connection)
        using (packets)
        {
            Handshake hello = await ReadHandshakeAsync(packets);
            Assert.Equal("5.5.5-" + version, hello.ServerVersion); // MariaDB prefixes "5.5.5-" for clients that parse the major version
            Assert.Equal("mysql_native_password", hello.AuthPlugin);
            Assert.Equal(ClientProtocol41 | ClientSecureConnection | ClientPluginAuth, hello.Capabilities & (ClientProtocol41 | ClientSecureConnection | ClientPluginAuth));
            Assert.Equal(20, hello.Scramble.Length);

            await SendHandshakeResponseAsync(connection, packets, hello, MariaDbServer.Password);
            MySqlMessage ok = await NextAsync(packets);
            Assert.True(ok.Payload.FirstSpan[0] == 0x00, $"expected an OK packet, got {Describe(ok.Payload)}");
            Assert.Equal(2, ok.FirstSequenceId); // handshake 0, our response 1, the server's answer 2

            // The connection is the test user's; COM_QUIT ends it and the server closes between two messages.
            Assert.Equal($"{MariaDbServer.User}@127.0.0.1", await QueryScalarAsync(connection, packets, "SELECT CURRENT_USER()"));
            await SendPacketAsync(connection, 0, new byte[] { 0x01 }); // COM_QUIT
            Assert.True((await packets.ReadMessageAsync().AsTask().WaitAsync(s_timeout)).IsCompleted, "the server should close after COM_QUIT");
        }

        (FramedConnection wrong, MySqlPacketReader wrongPackets) = await OpenAsync("127.0.0.1", _server.Port);
        await using (wrong)
        using (wrongPackets)
        {
            Handshake hello = await ReadHandshakeAsync(wrongPackets);
            await SendHandshakeResponseAsync(wrong, wrongPackets, hello, "not-" + MariaDbServer.Password);
            MySqlMessage denied = await NextAsync(wrongPackets);
            Assert.Equal(2, denied.FirstSequenceId);
            (int code, string sqlState, string message) = ParseError(denied.Payload);
            Assert.Equal((1045, "28000"), (code, sqlState)); // ER_ACCESS_DENIED_ERROR
            Assert.Contains("Access denied for user 'test'", message, StringComparison.Ordinal);
        }
    }

    [RequiresProgramFact(MariaDbServer.Program, MariaDbServer.Package)]
    public async Task AColumnOfTwentyMiBArrivesInTwoContinuedPacketsThatThePacketReaderJoinsInto20MiBOfX()
    {
        (FramedConnection connection, MySqlPacketReader packets) = await LoginAsync();
        await using (connection)
        using (packets)
        {
            MySqlMessage columnCount = await QueryAsync(connection, packets, "SELECT REPEAT('x', 20*1024*1024)").AsTask().WaitAsync(s_timeout);
            Assert.True(columnCount.Payload.FirstSpan[0] == 1, $"expected a result set of one column, got {Describe(columnCount.Payload)}");
            Assert.Equal(1, columnCount.FirstSequenceId);
            MySqlMessage column = await NextAsync(packets);
            Assert.Equal(2, column.FirstSequenceId);
            Assert.Contains("REPEAT('x', 20*1024*1024)", Encoding.ASCII.GetString(column.Payload.ToArray()), StringComparison.Ordinal);
            AssertEof(await NextAsync(packets), 3);

            // The row: 0xFE, an 8-byte length, the data; 20 MiB + 9 bytes = one packet of 0xFFFFFF bytes (seq 4) + 4,194,314 (seq 5).
            MySqlMessage row = await NextAsync(packets);
            Assert.Equal((2, 4, 5), (row.PacketCount, (int)row.FirstSequenceId, (int)row.LastSequenceId));
            Assert.Equal(9 + Row, row.Payload.Length);
            ReadOnlySequence<byte> payload = row.Payload;
            Assert.Equal(0xFE, payload.FirstSpan[0]);
            Assert.Equal((ulong)Row, BinaryPrimitives.ReadUInt64LittleEndian(payload.Slice(1, 8).ToArray()));
            long offset = 9;
            foreach (ReadOnlyMemory<byte> segment in payload.Slice(9))
            {
                int other = segment.Span.IndexOfAnyExcept((byte)'x');
                Assert.True(other < 0, $"byte {offset + other} of the row is 0x{(other < 0 ? 0 : segment.Span[other]):X2}, not 'x'");
                offset += segment.Length;
            }

            AssertEof(await NextAsync(packets), 6);
        }
    }

    [RequiresProgramFact(MariaDbServer.Program, MariaDbServer.Package)]
    public async Task ABadQueryGetsAnErrorPacketWithCode1064AndSqlState42000AndTheNextCommandStartsAtSequenceIdZeroAgain()
    {
        (FramedConnection connection, MySqlPacketReader packets) = await LoginAsync();
        await using (connection)
        using (packets)
        {
            MySqlMessage error = await QueryAsync(connection, packets, "SELEC 1").AsTask().WaitAsync(s_timeout);
            Assert.Equal((1, 1), (error.PacketCount, (int)error.FirstSequenceId));
            (int code, string sqlState, string message) = ParseError(error.Payload);
            Assert.Equal((1064, "42000"), (code, sqlState)); // ER_PARSE_ERROR
            Assert.Contains("You have an error in your SQL syntax", message, StringComparison.Ordinal);
            Assert.Contains("'SELEC 1'", message, StringComparison.Ordinal);

            // Ids restart at 0 with the next command; a reader left expecting 2 would fault on the server's 1.
            Assert.Equal("2", await QueryScalarAsync(connection, packets, "SELECT 1 + 1"));
        }
    }

    // A MySQL/MariaDB client connection: MySql.Codec, with a receive limit of a whole packet (16 MiB - 1) so that messages
    // continued over several packets can be read; MySqlPacketReader joins them (up to 64 MiB here) and checks sequence ids.
    static async Task<(FramedConnection Connection, MySqlPacketReader Packets)> OpenAsync(string host, int port)
    {
        var options = new FramedConnectionOptions();
        options.Reader.MaxFrameLength = MySql.MaxPacketPayloadLength;
        FramedConnection connection = await FramedConnection.ConnectAsync(host, port, MySql.Codec, options);
        return (connection, new MySqlPacketReader(connection, maxMessageLength: 64 * 1024 * 1024));
    }

    // A packet with its sequence id: byte 3 of the header is the caller's, MySql.Codec writes the 3-byte length.
    static ValueTask SendPacketAsync(FramedConnection connection, byte sequenceId, ReadOnlyMemory<byte> payload)
    {
        byte[] header = new byte[4];
        MySql.SequenceId.Write(header, sequenceId);
        return connection.SendAsync(header, payload);
    }

    // A command starts a new sequence: COM_QUERY goes out with id 0, the server answers with 1, 2, ...
    static async ValueTask<MySqlMessage> QueryAsync(FramedConnection connection, MySqlPacketReader packets, string sql)
    {
        await SendPacketAsync(connection, 0, (byte[])[0x03, .. Encoding.UTF8.GetBytes(sql)]); // COM_QUERY
        packets.ExpectedSequenceId = 1;
        return await packets.ReadMessageAsync();  // the first message of the response: OK, ERR or a column count
    }

    private async Task<(FramedConnection Connection, MySqlPacketReader Packets)> LoginAsync()
    {
        (FramedConnection connection, MySqlPacketReader packets) = await OpenAsync("127.0.0.1", _server.Port);
        Handshake hello = await ReadHandshakeAsync(packets);
        await SendHandshakeResponseAsync(connection, packets, hello, MariaDbServer.Password);
        MySqlMessage ok = await NextAsync(packets);
        Assert.True(ok.Payload.FirstSpan[0] == 0x00, $"the login failed: {Describe(ok.Payload)}");
        return (connection, packets);
    }

    /// <summary>The server speaks first: the initial handshake, protocol version 10, sequence id 0.</summary>
    private async Task<Handshake> ReadHandshakeAsync(MySqlPacketReader packets)
    {
        packets.ExpectedSequenceId = 0;
        MySqlMessage message = await NextAsync(packets);
        Assert.Equal((1, 0), (message.PacketCount, (int)message.FirstSequenceId));
        byte[] packet = message.Payload.ToArray();
        Assert.Equal(10, packet[0]);
        return ParseHandshake(packet);
    }

    /// <summary>HandshakeResponse41 with the handshake's sequence id + 1; the server's answer then carries the id after that.</summary>
    private static async Task SendHandshakeResponseAsync(FramedConnection connection, MySqlPacketReader packets, Handshake hello, string password)
    {
        uint capabilities = ClientLongPassword | ClientProtocol41 | ClientSecureConnection | ClientPluginAuth;
        byte[] fixedPart = new byte[32]; // capabilities, max packet size, character set, 23 reserved bytes
        BinaryPrimitives.WriteUInt32LittleEndian(fixedPart, capabilities);
        BinaryPrimitives.WriteUInt32LittleEndian(fixedPart.AsSpan(4), (uint)MariaDbServer.MaxAllowedPacket); // 64 MiB, as the server
        fixedPart[8] = 45; // utf8mb4_general_ci
        byte[] token = NativePasswordToken(password, hello.Scramble);
        byte[] response = [.. fixedPart, .. Encoding.ASCII.GetBytes(MariaDbServer.User), 0, (byte)token.Length, .. token, .. "mysql_native_password"u8, 0];
        await SendPacketAsync(connection, 1, response).AsTask().WaitAsync(s_timeout);
        packets.ExpectedSequenceId = 2;
    }

    /// <summary>A query whose result is one row of one column: its value as text (column count, definition, EOF, row, EOF).</summary>
    private async Task<string> QueryScalarAsync(FramedConnection connection, MySqlPacketReader packets, string sql)
    {
        MySqlMessage columnCount = await QueryAsync(connection, packets, sql).AsTask().WaitAsync(s_timeout);
        Assert.True(columnCount.Payload.ToArray() is [1], $"expected one column, got {Describe(columnCount.Payload)}");
        Assert.Equal(1, columnCount.FirstSequenceId);
        await NextAsync(packets); // the column definition
        AssertEof(await NextAsync(packets), 3);
        MySqlMessage row = await NextAsync(packets);
        Assert.Equal(4, row.FirstSequenceId);
        byte[] value = row.Payload.ToArray();
        string text = Encoding.UTF8.GetString(value, 1, value[0]); // a length-encoded string under 251 bytes
        AssertEof(await NextAsync(packets), 5);
        return text;
    }

    private async Task<MySqlMessage> NextAsync(MySqlPacketReader packets)
    {
        MySqlMessage message = await packets.ReadMessageAsync().AsTask().WaitAsync(s_timeout);
        Assert.True(message.HasMessage, $"MariaDB closed the connection.\n{_server.Logs()}");
        return message;
    }

    private static void AssertEof(MySqlMessage message, int sequenceId)
    {
        Assert.True(message.Payload.FirstSpan[0] == 0xFE && message.Payload.Length < 9, $"expected an EOF packet, got {Describe(message.Payload)}");
        Assert.Equal(sequenceId, message.FirstSequenceId);
    }

    /// <summary>An ERR packet: 0xFF, a 2-byte error code, '#' and a 5-character SQLSTATE (protocol 4.1), the message.</summary>
    private static (int Code, string SqlState, string Message) ParseError(in ReadOnlySequence<byte> payload)
    {
        byte[] packet = payload.ToArray();
        Assert.True(packet.Length > 9 && packet[0] == 0xFF && packet[3] == '#', $"expected an ERR packet with a SQLSTATE, got {Convert.ToHexString(packet)}");
        return (BinaryPrimitives.ReadUInt16LittleEndian(packet.AsSpan(1)), Encoding.ASCII.GetString(packet, 4, 5), Encoding.UTF8.GetString(packet, 9, packet.Length - 9));
    }

    /// <summary>A protocol-10 handshake: version, connection id, the 20-byte scramble in two parts, capabilities, the auth plugin.</summary>
    private static Handshake ParseHandshake(byte[] packet)
    {
        int versionEnd = Array.IndexOf(packet, (byte)0, 1);
        string serverVersion = Encoding.ASCII.GetString(packet, 1, versionEnd - 1);
        int offset = versionEnd + 1 + 4; // connection id
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
        string plugin = Encoding.ASCII.GetString(packet, offset, (pluginEnd < 0 ? packet.Length : pluginEnd) - offset);
        return new Handshake(serverVersion, capabilities, scramble, plugin);
    }

    /// <summary>mysql_native_password: SHA1(password) XOR SHA1(scramble + SHA1(SHA1(password))).</summary>
    private static byte[] NativePasswordToken(string password, byte[] scramble)
    {
#pragma warning disable CA5350 // SHA-1 is what the protocol specifies
        byte[] stage1 = SHA1.HashData(Encoding.UTF8.GetBytes(password));
        byte[] stage2 = SHA1.HashData(stage1);
        byte[] mix = SHA1.HashData([.. scramble, .. stage2]);
#pragma warning restore CA5350
        for (int i = 0; i < mix.Length; i++)
        {
            mix[i] ^= stage1[i];
        }

        return mix;
    }

    private static string Describe(in ReadOnlySequence<byte> payload)
    {
        byte[] packet = payload.Slice(0, Math.Min(payload.Length, 200)).ToArray();
        return packet.Length > 3 && packet[0] == 0xFF
            ? $"error {BinaryPrimitives.ReadUInt16LittleEndian(packet.AsSpan(1))}: {Encoding.UTF8.GetString(packet, 3, packet.Length - 3)}"
            : Convert.ToHexString(packet);
    }

    private sealed record Handshake(string ServerVersion, uint Capabilities, byte[] Scramble, string AuthPlugin);
}
