namespace HeaderFraming.Codecs;

/// <summary>The byte order of a binary length field.</summary>
public enum Endianness
{
    /// <summary>Most significant byte first ("network byte order"): Kafka, Thrift, DNS over TCP, memcached, PostgreSQL.</summary>
    BigEndian = 0,

    /// <summary>Least significant byte first.</summary>
    LittleEndian = 1,
}
