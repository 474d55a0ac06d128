using System;
using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.CompilerServices;
using HeaderFraming.Codecs;
using HeaderFraming.Internal;

namespace HeaderFraming;

/// <summary>
/// Where the length lives in a fixed-length header: an unsigned integer of <see cref="FieldWidth"/> bytes at
/// <see cref="FieldOffset"/> of a <see cref="HeaderLength"/>-byte header, in <see cref="Endianness"/> byte order (or in ASCII
/// decimal digits, <see cref="AsciiDecimal(int, Codecs.AsciiAlignment, int, int, long)"/>), to which
/// <see cref="Adjustment"/> is added to get the payload length. A codec that declares one (<see cref="ILengthFieldCodec"/>)
/// is decoded and encoded inline by <see cref="FrameReader"/> and <see cref="FrameWriter"/>, without a call to the codec per frame.
/// </summary>
/// <remarks>
/// <code>
/// |&lt;------------------ HeaderLength ------------------&gt;|
/// +-------------+----- length field -----+------------+-----------+
/// | other bytes |  FieldWidth bytes      | other bytes |  payload  |
/// +-------------+------------------------+------------+-----------+
///  0             FieldOffset
/// payload length = field value + Adjustment
/// </code>
/// <para>Examples: Kafka's 4-byte big-endian prefix is <c>(4, BigEndian, 0, 4, 0)</c>; memcached's binary header
/// <c>(4, BigEndian, 8, 24, 0)</c>; PostgreSQL's type byte and self-counting length <c>(4, BigEndian, 1, 5, -4)</c>; the
/// seed's 10-byte space-padded ASCII length <c>AsciiDecimal(10, AsciiAlignment.Left)</c>.</para>
/// <para>A layout is immutable. The other header bytes (a type byte, an opcode) are neither read nor validated by the inline
/// decoder: a codec that must validate them should not declare a layout.</para>
/// </remarks>
public sealed class LengthFieldLayout
{
    /// <summary>Describes a binary length field.</summary>
    /// <param name="fieldWidth">The field's width in bytes, 1 to 8.</param>
    /// <param name="endianness">The field's byte order.</param>
    /// <param name="fieldOffset">Where the field starts inside the header.</param>
    /// <param name="headerLength">The whole header's length, at least <c>fieldOffset + fieldWidth</c>, at most 65,535.</param>
    /// <param name="adjustment">Added to the field's value to get the payload length (negative when the field counts itself
    /// or the header).</param>
    /// <exception cref="ArgumentOutOfRangeException">The layout is impossible, or no field value gives a payload length of zero or more.</exception>
    public LengthFieldLayout(int fieldWidth, Endianness endianness, int fieldOffset, int headerLength, long adjustment)
        : this(BinaryKind(fieldWidth, endianness), fieldWidth, endianness, null, fieldOffset, headerLength, adjustment)
    {
    }

    private LengthFieldLayout(LengthFieldKind kind, int fieldWidth, Endianness endianness, AsciiAlignment? asciiAlignment, int fieldOffset, int headerLength, long adjustment)
    {
        if (fieldOffset < 0 || fieldOffset > ushort.MaxValue)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(fieldOffset), fieldOffset, "The length field's offset must be 0 to 65,535.");
        }

        if (headerLength < fieldOffset + fieldWidth || headerLength > ushort.MaxValue)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(headerLength), headerLength, string.Format(CultureInfo.InvariantCulture,
                "The header must hold the {0}-byte length field at offset {1}: it needs {2} to 65,535 bytes.",
                fieldWidth, fieldOffset, fieldOffset + fieldWidth));
        }

        Kind = kind;
        FieldWidth = fieldWidth;
        Endianness = endianness;
        AsciiAlignment = asciiAlignment;
        FieldOffset = fieldOffset;
        HeaderLength = headerLength;
        Adjustment = adjustment;
        MaxFieldValue = asciiAlignment != null ? AsciiDigits.MaxValue(fieldWidth)
            : fieldWidth == 8 ? ulong.MaxValue
            : (1UL << (8 * fieldWidth)) - 1;

        // The payload lengths the field can give: [max(0, adjustment), min(maxField + adjustment, long.MaxValue)].
        // Field values above 2^63 - 1 are invalid however they are adjusted, so they give no payload length.
        decimal max = Math.Min(MaxFieldValue, (ulong)long.MaxValue) + (decimal)adjustment;
        if (max < 0)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(adjustment), adjustment,
                "With this adjustment no value of the length field gives a payload length of zero or more.");
        }

        MaxPayloadLength = max >= long.MaxValue ? long.MaxValue : (long)max;

        // Every field value gives a valid payload length: no check is needed per frame. (An ASCII field may hold a byte that
        // is no digit: never.)
        AlwaysValid = asciiAlignment == null && adjustment >= 0 && (fieldWidth < 8 || adjustment == 0) && MaxFieldValue <= (ulong)(long.MaxValue - adjustment);
    }

    /// <summary>Describes a length in ASCII decimal digits that fills the whole header (<see cref="AsciiDecimalCodec"/>'s layout).</summary>
    /// <param name="width">The field's and the header's width in bytes, 1 to <see cref="AsciiDecimalCodec.MaxWidth"/>.</param>
    /// <param name="alignment">How the digits are padded.</param>
    /// <returns>The layout.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The width or alignment is out of range.</exception>
    public static LengthFieldLayout AsciiDecimal(int width, AsciiAlignment alignment)
        => AsciiDecimal(width, alignment, fieldOffset: 0, headerLength: width, adjustment: 0);

    /// <summary>Describes a length in ASCII decimal digits at a fixed place of a fixed-length header: for example a 4-digit
    /// zero-padded length after a 2-byte message type, <c>AsciiDecimal(4, AsciiAlignment.ZeroPadded, 2, 6, 0)</c>.</summary>
    /// <param name="fieldWidth">The field's width in bytes (one per digit or padding byte), 1 to <see cref="AsciiDecimalCodec.MaxWidth"/>.</param>
    /// <param name="alignment">How the digits are padded. Decoding is as strict as <see cref="AsciiDecimalCodec"/>'s: only
    /// digits and that padding, at least one digit; any other field is <see cref="System.Buffers.OperationStatus.InvalidData"/>.</param>
    /// <param name="fieldOffset">Where the field starts inside the header.</param>
    /// <param name="headerLength">The whole header's length, at least <c>fieldOffset + fieldWidth</c>, at most 65,535.</param>
    /// <param name="adjustment">Added to the field's value to get the payload length.</param>
    /// <returns>The layout; its <see cref="Endianness"/> is <see cref="Endianness.BigEndian"/> (the most significant digit comes first).</returns>
    /// <exception cref="ArgumentOutOfRangeException">The layout is impossible, or no field value gives a payload length of zero or more.</exception>
    public static LengthFieldLayout AsciiDecimal(int fieldWidth, AsciiAlignment alignment, int fieldOffset, int headerLength, long adjustment)
    {
        if (fieldWidth < 1 || fieldWidth > AsciiDecimalCodec.MaxWidth)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(fieldWidth), fieldWidth, $"An ASCII decimal length field is 1 to {AsciiDecimalCodec.MaxWidth} bytes wide.");
        }

        LengthFieldKind kind = alignment switch
        {
            Codecs.AsciiAlignment.Left => fieldWidth == AsciiDecimalCodec.DefaultWidth ? LengthFieldKind.AsciiLeft10 : LengthFieldKind.AsciiLeft,
            Codecs.AsciiAlignment.Right => LengthFieldKind.AsciiRight,
            Codecs.AsciiAlignment.ZeroPadded => LengthFieldKind.AsciiZeroPadded,
            _ => throw new ArgumentOutOfRangeException(nameof(alignment), alignment, "Unknown alignment."),
        };
        return new LengthFieldLayout(kind, fieldWidth, Endianness.BigEndian, alignment, fieldOffset, headerLength, adjustment);
    }

    /// <summary>The length field's width in bytes: 1 to 8 for a binary field, 1 to 19 for ASCII digits.</summary>
    public int FieldWidth { get; }

    /// <summary>The length field's byte order (<see cref="Endianness.BigEndian"/> for ASCII digits, the most significant first).</summary>
    public Endianness Endianness { get; }

    /// <summary>How the ASCII decimal digits of the field are padded, or <see langword="null"/> for a binary field.</summary>
    public AsciiAlignment? AsciiAlignment { get; }

    /// <summary>Where the length field starts inside the header.</summary>
    public int FieldOffset { get; }

    /// <summary>The whole header's length in bytes.</summary>
    public int HeaderLength { get; }

    /// <summary>Added to the field's value to get the payload length.</summary>
    public long Adjustment { get; }

    /// <summary>The longest payload the field can describe.</summary>
    public long MaxPayloadLength { get; }

    internal ulong MaxFieldValue { get; }

    internal LengthFieldKind Kind { get; }

    /// <summary>Whether every value of the field is a valid payload length (no per-frame check needed).</summary>
    internal bool AlwaysValid { get; }

    /// <summary>Whether the header is nothing but the field (a writer has no other bytes to clear).</summary>
    internal bool HeaderIsField => HeaderLength == FieldWidth;

    /// <summary>Reads the field's raw value from a header of at least <see cref="HeaderLength"/> bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong ReadField(LengthFieldKind kind, ReadOnlySpan<byte> field, int width)
        => kind switch
        {
            LengthFieldKind.UInt32BigEndian => BinaryPrimitives.ReadUInt32BigEndian(field),
            LengthFieldKind.UInt16BigEndian => BinaryPrimitives.ReadUInt16BigEndian(field),
            LengthFieldKind.UInt32LittleEndian => BinaryPrimitives.ReadUInt32LittleEndian(field),
            LengthFieldKind.UInt16LittleEndian => BinaryPrimitives.ReadUInt16LittleEndian(field),
            LengthFieldKind.UInt8 => field[0],
            LengthFieldKind.AsciiLeft10 => AsciiDigits.ReadLeft10(field),
            _ => ReadFieldRare(kind, field, width),
        };

    /// <summary>Decodes a header of at least <see cref="HeaderLength"/> bytes; <see langword="false"/> when the value overflows
    /// a 63-bit length or is negative after the adjustment.</summary>
    internal bool TryGetPayloadLength(ReadOnlySpan<byte> header, out long payloadLength)
    {
        ulong value = ReadField(Kind, header.Slice(FieldOffset), FieldWidth);
        return TryAdjust(value, out payloadLength);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool TryAdjust(ulong value, out long payloadLength)
    {
        if (value > long.MaxValue || (Adjustment > 0 && (long)value > long.MaxValue - Adjustment) || (long)value + Adjustment < 0)
        {
            payloadLength = 0;
            return false;
        }

        payloadLength = (long)value + Adjustment;
        return true;
    }

    /// <summary>Writes the field for a payload length already checked against <see cref="MaxPayloadLength"/> and the
    /// minimum (<c>payloadLength - Adjustment &gt;= 0</c>).</summary>
    internal void WriteField(ulong value, Span<byte> header)
    {
        Span<byte> span = header.Slice(FieldOffset, FieldWidth);
        switch (Kind)
        {
            case LengthFieldKind.UInt32BigEndian: BinaryPrimitives.WriteUInt32BigEndian(span, (uint)value); break;
            case LengthFieldKind.UInt16BigEndian: BinaryPrimitives.WriteUInt16BigEndian(span, (ushort)value); break;
            case LengthFieldKind.UInt32LittleEndian: BinaryPrimitives.WriteUInt32LittleEndian(span, (uint)value); break;
            case LengthFieldKind.UInt16LittleEndian: BinaryPrimitives.WriteUInt16LittleEndian(span, (ushort)value); break;
            case LengthFieldKind.UInt64BigEndian: BinaryPrimitives.WriteUInt64BigEndian(span, value); break;
            case LengthFieldKind.UInt64LittleEndian: BinaryPrimitives.WriteUInt64LittleEndian(span, value); break;
            case LengthFieldKind.UInt8: span[0] = (byte)value; break;
            case LengthFieldKind.AsciiLeft10 or LengthFieldKind.AsciiLeft or LengthFieldKind.AsciiRight or LengthFieldKind.AsciiZeroPadded:
                AsciiDigits.Write(value, span, AsciiAlignment!.Value);
                break;
            case LengthFieldKind.OtherBigEndian:
                for (int i = span.Length - 1; i >= 0; i--)
                {
                    span[i] = (byte)value;
                    value >>= 8;
                }

                break;
            default:
                for (int i = 0; i < span.Length; i++)
                {
                    span[i] = (byte)value;
                    value >>= 8;
                }

                break;
        }
    }

    /// <summary>Describes the layout, e.g. <c>4-byte big-endian length at offset 8 of a 24-byte header</c>.</summary>
    /// <returns>The description.</returns>
    public override string ToString()
    {
        string field = AsciiAlignment switch
        {
            null => string.Format(CultureInfo.InvariantCulture, "{0}-byte {1}", FieldWidth, Endianness == Endianness.BigEndian ? "big-endian" : "little-endian"),
            Codecs.AsciiAlignment.Left => string.Format(CultureInfo.InvariantCulture, "{0}-byte ASCII decimal (left-aligned)", FieldWidth),
            Codecs.AsciiAlignment.Right => string.Format(CultureInfo.InvariantCulture, "{0}-byte ASCII decimal (right-aligned)", FieldWidth),
            _ => string.Format(CultureInfo.InvariantCulture, "{0}-byte ASCII decimal (zero-padded)", FieldWidth),
        };
        string text = string.Format(CultureInfo.InvariantCulture, "{0} length at offset {1} of a {2}-byte header", field, FieldOffset, HeaderLength);
        return Adjustment != 0 ? text + string.Format(CultureInfo.InvariantCulture, ", adjusted by {0}", Adjustment) : text;
    }

    private static LengthFieldKind BinaryKind(int fieldWidth, Endianness endianness)
    {
        if (fieldWidth < 1 || fieldWidth > 8)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(fieldWidth), fieldWidth, "The length field is 1 to 8 bytes wide.");
        }

        if (endianness != Endianness.BigEndian && endianness != Endianness.LittleEndian)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(endianness), endianness, "Unknown byte order.");
        }

        return fieldWidth switch
        {
            1 => LengthFieldKind.UInt8,
            2 => endianness == Endianness.BigEndian ? LengthFieldKind.UInt16BigEndian : LengthFieldKind.UInt16LittleEndian,
            4 => endianness == Endianness.BigEndian ? LengthFieldKind.UInt32BigEndian : LengthFieldKind.UInt32LittleEndian,
            8 => endianness == Endianness.BigEndian ? LengthFieldKind.UInt64BigEndian : LengthFieldKind.UInt64LittleEndian,
            _ => endianness == Endianness.BigEndian ? LengthFieldKind.OtherBigEndian : LengthFieldKind.OtherLittleEndian,
        };
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static ulong ReadFieldRare(LengthFieldKind kind, ReadOnlySpan<byte> field, int width)
    {
        switch (kind)
        {
            case LengthFieldKind.UInt64BigEndian:
                return BinaryPrimitives.ReadUInt64BigEndian(field);
            case LengthFieldKind.UInt64LittleEndian:
                return BinaryPrimitives.ReadUInt64LittleEndian(field);
            case LengthFieldKind.AsciiLeft10 or LengthFieldKind.AsciiLeft:
                return AsciiDigits.Read(field.Slice(0, width), Codecs.AsciiAlignment.Left);
            case LengthFieldKind.AsciiRight:
                return AsciiDigits.Read(field.Slice(0, width), Codecs.AsciiAlignment.Right);
            case LengthFieldKind.AsciiZeroPadded:
                return AsciiDigits.Read(field.Slice(0, width), Codecs.AsciiAlignment.ZeroPadded);
            case LengthFieldKind.OtherBigEndian:
            {
                ulong value = 0;
                for (int i = 0; i < width; i++)
                {
                    value = (value << 8) | field[i];
                }

                return value;
            }

            default:
            {
                ulong value = 0;
                for (int i = width - 1; i >= 0; i--)
                {
                    value = (value << 8) | field[i];
                }

                return value;
            }
        }
    }
}
