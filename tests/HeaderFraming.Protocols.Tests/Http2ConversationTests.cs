using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using HeaderFraming.Protocols.Tests.Servers;

namespace HeaderFraming.Protocols.Tests;

/// <summary>
/// HTTP/2 with prior knowledge against an in-process Kestrel (<see cref="KestrelHttp2Server"/>): the 24-byte preface raw,
/// then every frame through <see cref="Http2.Codec"/> with <see cref="Http2.Type"/>, <see cref="Http2.Flags"/> and
/// <see cref="Http2.StreamId"/>; the server's SETTINGS_MAX_FRAME_SIZE becomes the live send limit, the one this client
/// advertised the receive limit. The helpers marked "docs/protocols.md" are pasted verbatim into that document.
/// </summary>
public class Http2ConversationTests : IClassFixture<KestrelHttp2Server>
{
    const byte Data = 0x0, Headers = 0x1, RstStream = 0x3, Settings = 0x4, Ping = 0x6, GoAway = 0x7, WindowUpdate = 0x8;
    const byte EndStream = 0x1, Ack = 0x1, EndHeaders = 0x4, Padded = 0x8, Priority = 0x20;
    const ushort MaxFrameSizeSetting = 0x5, InitialWindowSizeSetting = 0x4;
    private readonly KestrelHttp2Server _kestrel;

    public Http2ConversationTests(KestrelHttp2Server kestrel) => _kestrel = kestrel;

    [Fact]
    public async Task AGetOfOneMebibyteReturns200AndTheWholeBodyInDataFramesWithinTheAdvertisedFrameSize()
    {
        await using FramedConnection connection = await FramedConnection.ConnectAsync("127.0.0.1", _kestrel.Port, Http2.Codec, Http2Options());

        await StartAsync(connection, maxFrameSize: Http2.DefaultMaxFrameSize, windowSize: 16 << 20);
        Assert.Equal(KestrelHttp2Server.MaxFrameSize, connection.MaxSendFrameLength); // Kestrel's SETTINGS, applied
        Assert.Equal(Http2.DefaultMaxFrameSize, connection.MaxReceiveFrameLength);   // what this client advertised

        // The send limit is live: one byte over the server's SETTINGS_MAX_FRAME_SIZE is refused before anything is written.
        var tooLong = Assert.Throws<ArgumentOutOfRangeException>(() =>
            { _ = SendFrameAsync(connection, Ping, 0, 0, new byte[KestrelHttp2Server.MaxFrameSize + 1]); });
        Assert.Contains("send limit of 32,768 bytes", tooLong.Message, StringComparison.Ordinal);

        await SendGetAsync(connection, streamId: 1, "/big", "localhost");
        byte[] body = new byte[KestrelHttp2Server.BigBody.Length];
        var response = await ReadResponseAsync(connection, streamId: 1, body);

        Assert.Equal(200, response.Status);
        Assert.True(response.HeaderBlock.AsSpan().IndexOf("1048576"u8) >= 0, // content-length, a literal: Kestrel's HPACK
            "No content-length of 1048576 in the response's header block.");      // encoder never Huffman-codes
        Assert.Equal(body.Length, response.Length);
        Assert.True(KestrelHttp2Server.BigBody.AsSpan().SequenceEqual(body), "The reassembled body differs from the one served.");
        Assert.True(response.DataFrames >= body.Length / Http2.DefaultMaxFrameSize,
            $"{response.DataFrames} DATA frames for 1 MiB: Kestrel sent frames over the advertised 16,384 bytes without a fault.");
    }

    [Fact]
    public async Task AdvertisingLargerFramesThanTheReceiveLimitFaultsAtTheFirstLargeDataFrameWithFrameTooLarge()
    {
        await using FramedConnection connection = await FramedConnection.ConnectAsync("127.0.0.1", _kestrel.Port, Http2.Codec, Http2Options());
        await StartAsync(connection, maxFrameSize: 65_536, windowSize: 16 << 20);
        connection.MaxReceiveFrameLength = Http2.DefaultMaxFrameSize; // a client that forgot what it advertised

        await SendGetAsync(connection, streamId: 1, "/big", "localhost");
        var ex = await Assert.ThrowsAsync<FrameTooLargeException>(() => ReadResponseAsync(connection, streamId: 1, new byte[1 << 20]));
        Assert.InRange(ex.DeclaredLength, Http2.DefaultMaxFrameSize + 1, 65_536); // Kestrel used the larger frames it was allowed
        Assert.Equal(Http2.DefaultMaxFrameSize, ex.MaxFrameLength);
        Assert.Equal(ConnectionShutdownReason.ProtocolError, connection.ShutdownReason);
    }

    private static FramedConnectionOptions Http2Options()
    {
        var options = new FramedConnectionOptions();
        options.Reader.IdleTimeout = TimeSpan.FromSeconds(10); // a server that goes silent fails the test with FrameTimeoutException
        return options;
    }

    // docs/protocols.md: HTTP/2, writing a frame.
    static ValueTask SendFrameAsync(FramedConnection connection, byte type, byte flags, uint streamId, ReadOnlyMemory<byte> payload)
    {
        byte[] header = new byte[9];
        Http2.Type.Write(header, type);
        Http2.Flags.Write(header, flags);
        Http2.StreamId.Write(header, streamId);       // the reserved bit stays 0; the codec writes the 24-bit length
        return connection.SendAsync(header, payload); // over MaxSendFrameLength: refused, nothing written
    }

    // docs/protocols.md: HTTP/2, reading a frame (PING answered, GOAWAY reported).
    static async Task<Frame> NextFrameAsync(FramedConnection connection)
    {
        while (true)
        {
            FrameReadResult result = await connection.ReadFrameAsync(); // over MaxReceiveFrameLength: FrameTooLargeException
            if (!result.HasFrame) throw new EndOfStreamException("The server closed the connection.");
            Frame frame = result.Frame;                                 // valid until the next read
            ulong type = frame.Read(Http2.Type);
            if (type == Ping && (frame.Read(Http2.Flags) & Ack) == 0)
            {
                await SendFrameAsync(connection, Ping, Ack, 0, frame.Payload.ToArray());
                continue;
            }

            if (type == GoAway) throw new InvalidDataException($"GOAWAY, error code {BinaryPrimitives.ReadUInt32BigEndian(frame.Payload.Slice(4, 4).ToArray())}.");
            return frame;
        }
    }

    // docs/protocols.md: HTTP/2, the preface and the SETTINGS exchange.
    static async Task StartAsync(FramedConnection connection, int maxFrameSize, uint windowSize)
    {
        connection.MaxReceiveFrameLength = maxFrameSize;               // the largest frame we advertise
        await connection.SendRawAsync(Http2.ConnectionPreface.ToArray());
        byte[] settings = new byte[12];
        BinaryPrimitives.WriteUInt16BigEndian(settings, MaxFrameSizeSetting);
        BinaryPrimitives.WriteUInt32BigEndian(settings.AsSpan(2), (uint)maxFrameSize);
        BinaryPrimitives.WriteUInt16BigEndian(settings.AsSpan(6), InitialWindowSizeSetting); // every stream's window
        BinaryPrimitives.WriteUInt32BigEndian(settings.AsSpan(8), windowSize);
        await SendFrameAsync(connection, Settings, 0, 0, settings);
        byte[] increment = new byte[4];                                // the connection's window starts at 65,535
        BinaryPrimitives.WriteUInt32BigEndian(increment, windowSize - 65_535);
        await SendFrameAsync(connection, WindowUpdate, 0, 0, increment);

        bool serverSettings = false, ourSettingsAcked = false;
        while (!serverSettings || !ourSettingsAcked)
        {
            Frame frame = await NextFrameAsync(connection);
            if (frame.Read(Http2.Type) != Settings) continue;           // e.g. the server's WINDOW_UPDATE on stream 0
            if ((frame.Read(Http2.Flags) & Ack) != 0) { ourSettingsAcked = true; continue; }
            connection.MaxSendFrameLength = MaxFrameSize(frame.Payload); // the server's limit on what we send
            await SendFrameAsync(connection, Settings, Ack, 0, default);
            serverSettings = true;
        }
    }

    // docs/protocols.md: HTTP/2, SETTINGS_MAX_FRAME_SIZE out of a SETTINGS payload.
    static long MaxFrameSize(ReadOnlySequence<byte> settings)
    {
        if (settings.Length % 6 != 0) throw new InvalidDataException($"A SETTINGS payload of {settings.Length} bytes (FRAME_SIZE_ERROR).");
        long maxFrameSize = Http2.DefaultMaxFrameSize;                   // when the server does not say
        var reader = new SequenceReader<byte>(settings);
        while (reader.TryReadBigEndian(out short id) && reader.TryReadBigEndian(out int value))
        {
            if ((ushort)id == MaxFrameSizeSetting) maxFrameSize = (uint)value;
        }

        return maxFrameSize;
    }

    // docs/protocols.md: HTTP/2, a GET as a literal HPACK block.
    static ValueTask SendGetAsync(FramedConnection connection, uint streamId, string path, string authority)
    {
        // HPACK (RFC 7541): 0x82 and 0x86 are static-table entries 2 (:method GET) and 6 (:scheme http); :path and
        // :authority are "literal without indexing, indexed name" (0x04: the name of entry 4, :path; 0x01: entry 1,
        // :authority), each value a length byte (high bit clear: not Huffman-coded) and its ASCII bytes. Nothing enters
        // the dynamic table, so the client keeps no HPACK state. Short values only: a length under 127 fits one byte.
        byte[] block = [0x82, 0x86, 0x04, (byte)path.Length, .. Encoding.ASCII.GetBytes(path),
                        0x01, (byte)authority.Length, .. Encoding.ASCII.GetBytes(authority)];
        return SendFrameAsync(connection, Headers, EndStream | EndHeaders, streamId, block);
    }

    // docs/protocols.md: HTTP/2, the response's HEADERS and DATA frames.
    static async Task<(int Status, byte[] HeaderBlock, int Length, int DataFrames)> ReadResponseAsync(FramedConnection connection, uint streamId, Memory<byte> body)
    {
        (int status, byte[] block, int length, int dataFrames) = (0, [], 0, 0);
        while (true)
        {
            Frame frame = await NextFrameAsync(connection);
            if (frame.Read(Http2.StreamId) != streamId) continue;        // stream 0: WINDOW_UPDATE, SETTINGS
            ulong type = frame.Read(Http2.Type), flags = frame.Read(Http2.Flags);
            ReadOnlySequence<byte> payload = frame.Payload;
            if ((flags & Padded) != 0 && (type == Data || type == Headers))
            {
                int pad = payload.FirstSpan[0];
                if (pad >= payload.Length) throw new InvalidDataException("Padding as long as the frame (PROTOCOL_ERROR).");
                payload = payload.Slice(1, payload.Length - 1 - pad);       // pad length byte, then the padding at the end
            }

            if (type == Headers)
            {
                if ((flags & EndHeaders) == 0) throw new InvalidDataException("CONTINUATION frames are not handled here.");
                block = payload.Slice((flags & Priority) != 0 ? 5 : 0).ToArray();
                status = DecodeStatus(block);
            }
            else if (type == Data)
            {
                if (status == 0) throw new InvalidDataException("DATA before the response's HEADERS.");
                payload.CopyTo(body.Span[length..]);                      // ArgumentException if the body outgrows it
                length += (int)payload.Length;
                dataFrames++;
            }
            else if (type == RstStream)
            {
                throw new InvalidDataException($"RST_STREAM, error code {BinaryPrimitives.ReadUInt32BigEndian(payload.ToArray())}.");
            }

            if ((type == Headers || type == Data) && (flags & EndStream) != 0) return (status, block, length, dataFrames);
        }
    }

    // docs/protocols.md: HTTP/2, :status out of the first HPACK entry.
    static int DecodeStatus(ReadOnlySpan<byte> block)
    {
        // RFC 9113 §8.3: :status comes first. An indexed static entry 8-14 (0x88 is ":status 200"), or a literal with the
        // indexed name 8 (0x08 without, 0x48 with incremental indexing, 0x18 never indexed) and 3 plain ASCII digits.
        ReadOnlySpan<int> indexed = [200, 204, 206, 304, 400, 404, 500];
        if (block.Length > 0 && block[0] >= 0x88 && block[0] <= 0x8E) return indexed[block[0] - 0x88];
        if (block.Length >= 5 && block[0] is 0x08 or 0x48 or 0x18 && block[1] == 3) return (block[2] - '0') * 100 + (block[3] - '0') * 10 + (block[4] - '0');
        throw new InvalidDataException($"The response does not start with a :status this decoder reads (first byte 0x{(block.Length > 0 ? block[0] : 0):X2}).");
    }
}
