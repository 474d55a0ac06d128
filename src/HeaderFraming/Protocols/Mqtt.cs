using HeaderFraming.Codecs;

namespace HeaderFraming.Protocols;

/// <summary>
/// MQTT 3.1.1 and 5.0 framing: every control packet starts with a fixed header of one control byte (the packet type in the
/// high nibble, its flags in the low one) and a "remaining length" of 1 to 4 varint bytes that counts the variable header
/// and the payload.
/// </summary>
/// <remarks>
/// <code>
/// +--- control byte ---+- remaining length -+-------------------------------+
/// | type:4  |  flags:4 |  1 to 4 bytes      | variable header + payload     |
/// |  0x3    |   0x0    |  \xC1\x02 (= 321)  | 321 bytes                     |
/// +--------------------+--------------------+-------------------------------+
///  0                    1
/// </code>
/// <para>Read with <c>new FrameReader(pipe.Reader, Mqtt.Codec)</c>; <c>frame.Read(Mqtt.PacketType)</c> gives the type
/// (1 CONNECT, 2 CONNACK, 3 PUBLISH, …). To write, the caller supplies the control byte (<see cref="IHeaderPrefixCodec"/>):
/// the codec writes the remaining length after it.</para>
/// <para>Over-long encodings (<c>80 00</c> for 0) are rejected: MQTT 5.0 requires the minimum number of bytes
/// ([MQTT-1.5.5-1]); MQTT 3.1.1 §2.2.3 states no such rule but its encoding algorithm never produces them, so a peer that
/// sends one is broken or hostile. Use <c>new PrefixedVarintCodec(1, 4, acceptsOverlongEncodings: true)</c> to accept them.</para>
/// </remarks>
public static class Mqtt
{
    /// <summary>The largest remaining length: 268,435,455 bytes (4 varint bytes of 7 bits).</summary>
    public const long MaxRemainingLength = 268_435_455;

    /// <summary>The fixed header: 1 control byte, then a remaining length of at most 4 varint bytes; a 5th byte is malformed
    /// ("the varint length is longer than 4 bytes").</summary>
    public static PrefixedVarintCodec Codec { get; } = new PrefixedVarintCodec(prefixLength: 1, maxVarintLength: 4);

    /// <summary>The control packet type: the high nibble of byte 0 (1 CONNECT … 14 DISCONNECT, 15 AUTH in 5.0).</summary>
    public static HeaderField PacketType { get; } = new HeaderField(0, 1, mask: 0xF0);

    /// <summary>The flags of the control packet: the low nibble of byte 0 (PUBLISH: DUP, QoS and RETAIN).</summary>
    public static HeaderField Flags { get; } = new HeaderField(0, 1, mask: 0x0F);
}
