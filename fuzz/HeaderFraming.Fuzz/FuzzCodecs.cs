using System;
using HeaderFraming.Codecs;

namespace HeaderFraming.Fuzz;

/// <summary>Picks the codec under test from the control bytes: a table of real-world layouts plus a binary layout built from the bytes.</summary>
public static class FuzzCodecs
{
    private static readonly IFrameCodec[] s_table =
    [
        AsciiDecimalCodec.Default,                                         // the seed format, "22        "
        new AsciiDecimalCodec(6, AsciiAlignment.Right),                    // "    22"
        new AsciiDecimalCodec(8, AsciiAlignment.ZeroPadded),               // "00000022"
        new AsciiDecimalCodec(1, AsciiAlignment.Left),
        new AsciiDecimalCodec(AsciiDecimalCodec.MaxWidth, AsciiAlignment.Left),
        new AsciiDecimalCodec(AsciiDecimalCodec.MaxWidth, AsciiAlignment.Right),
        new AsciiDecimalCodec(AsciiDecimalCodec.MaxWidth, AsciiAlignment.ZeroPadded),
        BinaryLengthCodec.UInt32BigEndian,                                 // Kafka, Thrift
        BinaryLengthCodec.UInt16BigEndian,                                 // DNS over TCP
        BinaryLengthCodec.UInt32LittleEndian,
        new BinaryLengthCodec(4, Endianness.BigEndian, fieldOffset: 8, headerLength: 24),                     // memcached
        new BinaryLengthCodec(4, Endianness.BigEndian, fieldOffset: 1, headerLength: 5, lengthAdjustment: -4), // PostgreSQL
        new BinaryLengthCodec(3, Endianness.LittleEndian, fieldOffset: 2, headerLength: 7, lengthIncludesHeader: true),
        new BinaryLengthCodec(8, Endianness.BigEndian, lengthAdjustment: int.MaxValue),
        new BinaryLengthCodec(8, Endianness.LittleEndian, fieldOffset: 3, headerLength: 16, lengthAdjustment: int.MinValue, lengthIncludesHeader: true),
        VarintCodec.Instance,                                              // protobuf delimited
    ];

    /// <summary>Control byte 0 picks a layout; byte 0 ≥ 240 builds a binary layout from bytes 1 to 3.</summary>
    public static IFrameCodec Select(in FuzzInput input)
    {
        int selector = input[0];
        return selector >= 240 ? BinaryFromBytes(input[1], input[2], input[3]) : s_table[selector % s_table.Length];
    }

    private static BinaryLengthCodec BinaryFromBytes(byte a, byte b, byte c)
    {
        int width = 1 + (a & 7);
        Endianness endianness = (a & 8) != 0 ? Endianness.LittleEndian : Endianness.BigEndian;
        bool includesHeader = (a & 16) != 0;
        int offset = b & 7;
        int headerLength = offset + width + ((b >> 3) & 7);
        int adjustment = (a & 32) == 0 ? (sbyte)c : ((a & 64) == 0 ? int.MaxValue - c : int.MinValue + c);

        // The constructor rejects layouts where no field value gives a payload of zero or more; keep to valid layouts.
        decimal maxField = width == 8 ? long.MaxValue : (decimal)((1UL << (8 * width)) - 1);
        decimal delta = (decimal)adjustment - (includesHeader ? headerLength : 0);
        if (maxField + delta < 0)
        {
            adjustment = 0;
        }

        return new BinaryLengthCodec(width, endianness, offset, headerLength, adjustment, includesHeader);
    }
}
