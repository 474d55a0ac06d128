using HeaderFraming.Codecs;

namespace HeaderFraming.Protocols;

/// <summary>
/// MySQL and MariaDB client/server packets: a 3-byte little-endian payload length, a 1-byte sequence id, the payload. A
/// payload of exactly 0xFFFFFF bytes means the message continues in the next packet; a packet shorter than that (possibly
/// empty) ends it.
/// </summary>
/// <remarks>
/// <code>
/// +- length: u24 LE -+-seq-+----------------------------+
/// |     05 00 00     | 00  | 0x03 "SELECT 1" (5 bytes)… |
/// +------------------+-----+----------------------------+
///  0                  3     4
///
/// a 16 MiB + 3 byte message: | FF FF FF | 01 | 16,777,215 bytes | 03 00 00 | 02 | 3 bytes |
/// </code>
/// <para>Read packets with <c>new FrameReader(pipe.Reader, MySql.Codec)</c>, or whole messages — continuation packets joined
/// and sequence ids checked — with <see cref="MySqlPacketReader"/>. <c>frame.Read(MySql.SequenceId)</c> gives a packet's id.</para>
/// </remarks>
public static class MySql
{
    /// <summary>The largest payload of one packet, 16,777,215 bytes; a packet of exactly this length is continued.</summary>
    public const int MaxPacketPayloadLength = 0xFFFFFF;

    /// <summary>The packet codec: a 3-byte little-endian length at offset 0 of a 4-byte header.</summary>
    public static BinaryLengthCodec Codec { get; } = new BinaryLengthCodec(3, Endianness.LittleEndian, fieldOffset: 0, headerLength: 4);

    /// <summary>The sequence id: byte 3.</summary>
    public static HeaderField SequenceId { get; } = new HeaderField(3, 1);
}
