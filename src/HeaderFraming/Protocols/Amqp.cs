using System;
using HeaderFraming.Codecs;

namespace HeaderFraming.Protocols;

/// <summary>
/// AMQP 0-9-1 framing (RabbitMQ): after the 8-byte protocol header (<see cref="ProtocolHeader"/>, sent raw by the client),
/// every frame is a 7-byte header — type, channel, payload size — the payload and the frame-end byte <c>0xCE</c>.
/// </summary>
/// <remarks>
/// <code>
/// +-type-+-channel: u16-+---- size: u32 ----+------------------+-frame-end-+
/// | 0x01 |    00 00     |  \x00\x00\x00\x0C |  12-byte payload |   0xCE    |
/// +------+--------------+-------------------+------------------+-----------+
///  0      1              3                   7                  7 + size
/// </code>
/// <para><see cref="Codec"/> is a <see cref="TrailerCodec"/>: the reader checks the frame-end byte and leaves it out of the
/// payload; the writer appends it. <c>frame.Read(Amqp.FrameType)</c> and <c>frame.Read(Amqp.Channel)</c> give the other
/// header fields.</para>
/// </remarks>
public static class Amqp
{
    /// <summary>The byte every frame ends with.</summary>
    public const byte FrameEnd = 0xCE;

    /// <summary>Frame type 1: a method frame.</summary>
    public const byte MethodFrame = 1;

    /// <summary>Frame type 2: a content header frame.</summary>
    public const byte ContentHeaderFrame = 2;

    /// <summary>Frame type 3: a content body frame.</summary>
    public const byte ContentBodyFrame = 3;

    /// <summary>Frame type 8: a heartbeat frame (channel 0, empty payload).</summary>
    public const byte HeartbeatFrame = 8;

    /// <summary>The frame codec: a 4-byte big-endian size at offset 3 of a 7-byte header, then the trailer <c>0xCE</c>.</summary>
    public static TrailerCodec Codec { get; } =
        new BinaryLengthCodec(4, Endianness.BigEndian, fieldOffset: 3, headerLength: 7).WithTrailer(FrameEnd);

    /// <summary>The frame type: byte 0.</summary>
    public static HeaderField FrameType { get; } = new HeaderField(0, 1);

    /// <summary>The channel: bytes 1–2, big-endian (0 for connection-level frames).</summary>
    public static HeaderField Channel { get; } = new HeaderField(1, 2);

    /// <summary>The protocol header a client sends first, unframed: <c>"AMQP" 0 0 9 1</c>.</summary>
    public static ReadOnlySpan<byte> ProtocolHeader => "AMQP\0\0\u0009\u0001"u8;
}
