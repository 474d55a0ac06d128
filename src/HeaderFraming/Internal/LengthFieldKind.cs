namespace HeaderFraming.Internal;

/// <summary>The shape of a <see cref="LengthFieldLayout"/>'s field, switched on by the inline decoders.</summary>
internal enum LengthFieldKind : byte
{
    UInt32BigEndian,
    UInt16BigEndian,
    UInt32LittleEndian,
    UInt16LittleEndian,
    UInt8,
    UInt64BigEndian,
    UInt64LittleEndian,
    OtherBigEndian,
    OtherLittleEndian,

    // ASCII decimal digits: the seed's 10-byte left-aligned field (decoded inline), then any other width or alignment.
    AsciiLeft10,
    AsciiLeft,
    AsciiRight,
    AsciiZeroPadded,
}
