using System;
using System.Buffers.Binary;
using System.Globalization;
using HeaderFraming.Internal;

namespace HeaderFraming.Codecs;

/// <summary>
/// A fixed-length header of <see cref="HeaderLength"/> bytes with an unsigned binary length field of 1 to 8 bytes somewhere
/// inside it. The other header bytes (a type byte, an opcode, a status) belong to the header and stay visible to the user
/// through <see cref="Frame.Header"/>.
/// </summary>
/// <remarks>
/// <para>The payload length is <c>field + LengthAdjustment − (LengthIncludesHeader ? HeaderLength : 0)</c>;
/// <see cref="FrameReaderOptions.MaxFrameLength"/> limits that payload length (the header is never counted).</para>
/// <para>Example 1, <see cref="UInt32BigEndian"/> (Kafka, Thrift framed transport): a 4-byte prefix.</para>
/// <code>
/// +---- len: u32 ----+---------------------+
/// | \x00\x00\x00\x0B |  Hello world        |
/// +------------------+---------------------+
/// </code>
/// <para>Example 2, <see cref="UInt16BigEndian"/> (DNS over TCP, RFC 1035 §4.2.2): a 2-byte prefix.</para>
/// <code>
/// +- len: u16 -+--------------------+
/// |  \x00\x1D  |  29-byte DNS query |
/// +------------+--------------------+
/// </code>
/// <para>Example 3, a field at an offset inside a larger header: memcached's binary protocol has a 24-byte header whose
/// "total body length" is a 4-byte big-endian field at offset 8: <c>new BinaryLengthCodec(4, Endianness.BigEndian, fieldOffset: 8, headerLength: 24)</c>.</para>
/// <code>
/// +-magic-+-op-+-keylen-+-extlen-+-type-+-status-+-- body len --+-opaque-+-cas-+------------+
/// |  0x81 |0x00| 00 05  |  04    |  00  | 00 00  | 00 00 00 0A  | 4 bytes|  8  |  10 bytes  |
/// +-------+----+--------+--------+------+--------+--------------+--------+-----+------------+
///  0       1    2        4        5      6        8              12       16    24
/// </code>
/// <para>Example 4, a length adjustment: a PostgreSQL message is a type byte and a 4-byte length that counts itself but
/// not the type byte: <c>new BinaryLengthCodec(4, Endianness.BigEndian, fieldOffset: 1, headerLength: 5, lengthAdjustment: -4)</c>.</para>
/// <code>
/// +-type-+- len: u32 (=4+N) -+-----------+
/// | 'Q'  |   \x00\x00\x00\x0D  |  N bytes  |
/// +------+-------------------+-----------+
/// </code>
/// <para>Example 5, a length that counts the whole frame, header included: <c>lengthIncludesHeader: true</c>.</para>
/// </remarks>
public sealed class BinaryLengthCodec : IFrameCodec
{
    private readonly int _fieldWidth;
    private readonly int _fieldOffset;
    private readonly int _headerLength;
    private readonly Endianness _endianness;
    private readonly int _lengthAdjustment;
    private readonly bool _lengthIncludesHeader;

    // payload = field + _delta; field = payload - _delta.
    private readonly long _delta;
    private readonly long _maxFieldValue;
    private readonly long _maxPayloadLength;

    /// <summary>Creates a binary length codec.</summary>
    /// <param name="fieldWidth">The length field's width in bytes, 1 to 8.</param>
    /// <param name="endianness">The length field's byte order.</param>
    /// <param name="fieldOffset">Where the length field starts inside the header (0 for a plain prefix).</param>
    /// <param name="headerLength">The whole header's length in bytes, at least <c>fieldOffset + fieldWidth</c> (the default);
    /// at most 65,535.</param>
    /// <param name="lengthAdjustment">Added to the field's value to get the payload length (e.g. −4 when the field counts its own 4 bytes).</param>
    /// <param name="lengthIncludesHeader"><see langword="true"/> when the field counts the whole header as well as the payload;
    /// <paramref name="headerLength"/> is then subtracted too.</param>
    /// <exception cref="ArgumentOutOfRangeException">The layout is impossible: a width of 0 or more than 8, a negative offset,
    /// a field that does not fit the header.</exception>
    public BinaryLengthCodec(
        int fieldWidth = 4,
        Endianness endianness = Endianness.BigEndian,
        int fieldOffset = 0,
        int headerLength = -1,
        int lengthAdjustment = 0,
        bool lengthIncludesHeader = false)
    {
        if (fieldWidth < 1 || fieldWidth > 8)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(fieldWidth), fieldWidth, "The length field is 1 to 8 bytes wide.");
        }

        if (endianness != Endianness.BigEndian && endianness != Endianness.LittleEndian)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(endianness), endianness, "Unknown byte order.");
        }

        if (fieldOffset < 0 || fieldOffset > ushort.MaxValue)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(fieldOffset), fieldOffset, "The length field's offset must be 0 to 65,535.");
        }

        if (headerLength == -1)
        {
            headerLength = fieldOffset + fieldWidth;
        }

        if (headerLength < fieldOffset + fieldWidth || headerLength > ushort.MaxValue)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(headerLength), headerLength, string.Format(CultureInfo.InvariantCulture,
                "The header must hold the {0}-byte length field at offset {1}: it needs {2} to 65,535 bytes.",
                fieldWidth, fieldOffset, fieldOffset + fieldWidth));
        }

        _fieldWidth = fieldWidth;
        _fieldOffset = fieldOffset;
        _headerLength = headerLength;
        _endianness = endianness;
        _lengthAdjustment = lengthAdjustment;
        _lengthIncludesHeader = lengthIncludesHeader;
        _delta = lengthAdjustment - (lengthIncludesHeader ? (long)headerLength : 0);
        _maxFieldValue = fieldWidth == 8 ? long.MaxValue : (long)((1UL << (8 * fieldWidth)) - 1);
        _maxPayloadLength = _delta > 0 && _maxFieldValue > long.MaxValue - _delta ? long.MaxValue : _maxFieldValue + _delta;
        if (_maxPayloadLength < 0)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(lengthAdjustment), lengthAdjustment,
                "With this adjustment no value of the length field gives a payload length of zero or more.");
        }
    }

    /// <summary>A 4-byte big-endian length prefix counting the payload only: Kafka's request/response size, Thrift's framed
    /// transport, and most "u32 length + body" protocols.</summary>
    public static BinaryLengthCodec UInt32BigEndian { get; } = new BinaryLengthCodec(4, Endianness.BigEndian);

    /// <summary>A 2-byte big-endian length prefix: DNS over TCP (RFC 1035 §4.2.2, RFC 7766), payloads up to 65,535 bytes.</summary>
    public static BinaryLengthCodec UInt16BigEndian { get; } = new BinaryLengthCodec(2, Endianness.BigEndian);

    /// <summary>A 4-byte little-endian length prefix counting the payload only, as written by <c>BinaryWriter.Write(int)</c>
    /// and by many x86-native game and IPC protocols.</summary>
    public static BinaryLengthCodec UInt32LittleEndian { get; } = new BinaryLengthCodec(4, Endianness.LittleEndian);

    /// <summary>The length field's width in bytes.</summary>
    public int FieldWidth => _fieldWidth;

    /// <summary>Where the length field starts inside the header.</summary>
    public int FieldOffset => _fieldOffset;

    /// <summary>The whole header's length in bytes.</summary>
    public int HeaderLength => _headerLength;

    /// <summary>The length field's byte order.</summary>
    public Endianness Endianness => _endianness;

    /// <summary>Added to the field's value to get the payload length.</summary>
    public int LengthAdjustment => _lengthAdjustment;

    /// <summary>Whether the field counts the header as well as the payload.</summary>
    public bool LengthIncludesHeader => _lengthIncludesHeader;

    /// <summary>4 or 2 when the header is nothing but a plain big-endian length of the payload (UInt32BigEndian,
    /// UInt16BigEndian): such a header cannot be malformed, so FrameReader and FrameWriter handle it inline. 0 otherwise.</summary>
    internal int PlainBigEndianPrefixWidth
        => _fieldOffset == 0 && _headerLength == _fieldWidth && _delta == 0 && _endianness == Endianness.BigEndian
            && (_fieldWidth == 4 || _fieldWidth == 2)
            ? _fieldWidth
            : 0;

    /// <summary>Whether the length field fills the whole header (no other bytes for a writer to zero first).</summary>
    internal bool HeaderIsLengthField => _headerLength == _fieldWidth;

    /// <inheritdoc />
    public int MaxHeaderLength => _headerLength;

    /// <inheritdoc />
    public bool IsFixedWidth => true;

    /// <inheritdoc />
    public long MaxPayloadLength => _maxPayloadLength;

    /// <inheritdoc />
    public bool TryReadHeader(ReadOnlySpan<byte> source, out int headerLength, out long payloadLength)
    {
        if (source.Length < _headerLength)
        {
            headerLength = 0;
            payloadLength = 0;
            return false;
        }

        ReadOnlySpan<byte> field = source.Slice(_fieldOffset, _fieldWidth);
        ulong value;
        if (_endianness == Endianness.BigEndian)
        {
            value = _fieldWidth switch
            {
                4 => BinaryPrimitives.ReadUInt32BigEndian(field),
                2 => BinaryPrimitives.ReadUInt16BigEndian(field),
                1 => field[0],
                8 => BinaryPrimitives.ReadUInt64BigEndian(field),
                _ => ReadBigEndian(field),
            };
        }
        else
        {
            value = _fieldWidth switch
            {
                4 => BinaryPrimitives.ReadUInt32LittleEndian(field),
                2 => BinaryPrimitives.ReadUInt16LittleEndian(field),
                1 => field[0],
                8 => BinaryPrimitives.ReadUInt64LittleEndian(field),
                _ => ReadLittleEndian(field),
            };
        }

        long delta = _delta;
        if (value > long.MaxValue || (delta > 0 && (long)value > long.MaxValue - delta) || (long)value + delta < 0)
        {
            ThrowBadValue(value, source.Slice(0, _headerLength));
        }

        headerLength = _headerLength;
        payloadLength = (long)value + delta;
        return true;
    }

    /// <inheritdoc />
    public int GetHeaderLength(long payloadLength) => _headerLength;

    /// <inheritdoc />
    public int WriteHeader(long payloadLength, Span<byte> destination)
    {
        if (payloadLength < 0)
        {
            ThrowHelper.ThrowNegativeLength(payloadLength);
        }

        if (payloadLength > _maxPayloadLength)
        {
            ThrowHelper.ThrowPayloadTooLong(payloadLength, _maxPayloadLength, ToString());
        }

        // payloadLength <= maxField + delta, so this cannot overflow.
        long field = payloadLength - _delta;
        if (field < 0)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(payloadLength), payloadLength, string.Format(CultureInfo.InvariantCulture,
                "A payload of {0:N0} bytes cannot be described by {1}: the length field would be negative.", payloadLength, ToString()));
        }

        if (destination.Length < _headerLength)
        {
            ThrowHelper.ThrowDestinationTooSmall(_headerLength, destination.Length);
        }

        Span<byte> span = destination.Slice(_fieldOffset, _fieldWidth);
        ulong value = (ulong)field;
        if (_endianness == Endianness.BigEndian)
        {
            switch (_fieldWidth)
            {
                case 4:
                    BinaryPrimitives.WriteUInt32BigEndian(span, (uint)value);
                    break;
                case 2:
                    BinaryPrimitives.WriteUInt16BigEndian(span, (ushort)value);
                    break;
                case 8:
                    BinaryPrimitives.WriteUInt64BigEndian(span, value);
                    break;
                default:
                    for (int i = _fieldWidth - 1; i >= 0; i--)
                    {
                        span[i] = (byte)value;
                        value >>= 8;
                    }

                    break;
            }
        }
        else
        {
            switch (_fieldWidth)
            {
                case 4:
                    BinaryPrimitives.WriteUInt32LittleEndian(span, (uint)value);
                    break;
                case 2:
                    BinaryPrimitives.WriteUInt16LittleEndian(span, (ushort)value);
                    break;
                case 8:
                    BinaryPrimitives.WriteUInt64LittleEndian(span, value);
                    break;
                default:
                    for (int i = 0; i < _fieldWidth; i++)
                    {
                        span[i] = (byte)value;
                        value >>= 8;
                    }

                    break;
            }
        }

        return _headerLength;
    }

    /// <summary>Describes the layout, e.g. <c>4-byte big-endian length at offset 8 of a 24-byte header</c>.</summary>
    /// <returns>The description.</returns>
    public override string ToString()
    {
        string text = string.Format(CultureInfo.InvariantCulture, "{0}-byte {1} length at offset {2} of a {3}-byte header",
            _fieldWidth, _endianness == Endianness.BigEndian ? "big-endian" : "little-endian", _fieldOffset, _headerLength);
        if (_lengthAdjustment != 0)
        {
            text += string.Format(CultureInfo.InvariantCulture, ", adjusted by {0}", _lengthAdjustment);
        }

        return _lengthIncludesHeader ? text + ", counting the header" : text;
    }

    private static ulong ReadBigEndian(ReadOnlySpan<byte> field)
    {
        ulong value = 0;
        foreach (byte b in field)
        {
            value = (value << 8) | b;
        }

        return value;
    }

    private static ulong ReadLittleEndian(ReadOnlySpan<byte> field)
    {
        ulong value = 0;
        for (int i = field.Length - 1; i >= 0; i--)
        {
            value = (value << 8) | field[i];
        }

        return value;
    }

    private void ThrowBadValue(ulong value, ReadOnlySpan<byte> header)
    {
        string problem = value > long.MaxValue
            ? string.Format(CultureInfo.InvariantCulture, "the length field holds {0}, which overflows a 63-bit length ({1})", value, ToString())
            : string.Format(CultureInfo.InvariantCulture,
                "the length field holds {0}, which gives a payload length of {1} after the adjustment of {2}{3} ({4})",
                value, (decimal)value + _delta, _lengthAdjustment,
                _lengthIncludesHeader ? string.Format(CultureInfo.InvariantCulture, " and the {0}-byte header", _headerLength) : string.Empty,
                ToString());
        ThrowHelper.ThrowMalformed(problem, header);
    }
}
