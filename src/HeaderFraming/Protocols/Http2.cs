using System;
using HeaderFraming.Codecs;

namespace HeaderFraming.Protocols;

/// <summary>
/// HTTP/2 framing (RFC 9113 §4.1): after the 24-byte client connection preface (<see cref="ConnectionPreface"/>, raw
/// bytes), every frame is a 9-byte header — a 24-bit length, a type, flags, a reserved bit and a 31-bit stream id — then the
/// payload.
/// </summary>
/// <remarks>
/// <code>
/// +--- length: u24 ---+-type-+-flags-+-R-+--- stream id: u31 ---+------------+
/// |     00 00 0C      | 0x01 | 0x04  | 0 |     00 00 00 01      |  12 bytes  |
/// +-------------------+------+-------+---+----------------------+------------+
///  0                   3      4       5                          9
/// </code>
/// <para>Read with <c>new FrameReader(pipe.Reader, Http2.Codec, new FrameReaderOptions { MaxFrameLength = 16_384 })</c>
/// (the initial SETTINGS_MAX_FRAME_SIZE, <see cref="DefaultMaxFrameSize"/>), then <c>frame.Read(Http2.Type)</c>,
/// <c>frame.Read(Http2.Flags)</c>, <c>frame.Read(Http2.StreamId)</c>. To write, fill the header's type, flags and stream
/// id with <see cref="HeaderField.Write"/>; the codec writes the length.</para>
/// </remarks>
public static class Http2
{
    /// <summary>The initial SETTINGS_MAX_FRAME_SIZE: 16,384 bytes of payload.</summary>
    public const int DefaultMaxFrameSize = 16_384;

    /// <summary>The frame codec: a 3-byte big-endian length at offset 0 of a 9-byte header.</summary>
    public static BinaryLengthCodec Codec { get; } = new BinaryLengthCodec(3, Endianness.BigEndian, fieldOffset: 0, headerLength: 9);

    /// <summary>The frame type: byte 3 (0 DATA, 1 HEADERS, 4 SETTINGS, 6 PING, 7 GOAWAY, 8 WINDOW_UPDATE, …).</summary>
    public static HeaderField Type { get; } = new HeaderField(3, 1);

    /// <summary>The flags: byte 4 (0x1 END_STREAM or ACK, 0x4 END_HEADERS, 0x8 PADDED, 0x20 PRIORITY).</summary>
    public static HeaderField Flags { get; } = new HeaderField(4, 1);

    /// <summary>The stream id: the low 31 bits of bytes 5–8, big-endian (writing it leaves the reserved bit as it is).</summary>
    public static HeaderField StreamId { get; } = new HeaderField(5, 4, Endianness.BigEndian, mask: 0x7FFF_FFFF);

    /// <summary>The reserved bit: the high bit of byte 5, which a sender must leave 0 and a receiver must ignore.</summary>
    public static HeaderField Reserved { get; } = new HeaderField(5, 1, mask: 0x80);

    /// <summary>The client connection preface, sent raw before the first frame: <c>PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n</c>.</summary>
    public static ReadOnlySpan<byte> ConnectionPreface => "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8;
}
