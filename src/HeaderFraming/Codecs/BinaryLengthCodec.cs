using System;
using System.Buffers;
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
public sealed class BinaryLengthCodec : ILengthFieldCodec
{
    private readonly LengthFieldLayout _layout;
    private readonly int _lengthAdjustment;
    private readonly bool _lengthIncludesHeader;

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
        if (headerLength == -1 && fieldOffset >= 0 && fieldWidth is >= 1 and <= 8)
        {
            headerLength = fieldOffset + fieldWidth;
        }

        _layout = new LengthFieldLayout(fieldWidth, endianness, fieldOffset, headerLength,
            lengthAdjustment - (lengthIncludesHeader ? (long)headerLength : 0));
        _lengthAdjustment = lengthAdjustment;
        _lengthIncludesHeader = lengthIncludesHeader;
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
    public int FieldWidth => _layout.FieldWidth;

    /// <summary>Where the length field starts inside the header.</summary>
    public int FieldOffset => _layout.FieldOffset;

    /// <summary>The whole header's length in bytes.</summary>
    public int HeaderLength => _layout.HeaderLength;

    /// <summary>The length field's byte order.</summary>
    public Endianness Endianness => _layout.Endianness;

    /// <summary>Added to the field's value to get the payload length.</summary>
    public int LengthAdjustment => _lengthAdjustment;

    /// <summary>Whether the field counts the header as well as the payload.</summary>
    public bool LengthIncludesHeader => _lengthIncludesHeader;

    /// <inheritdoc />
    /// <remarks>Its <see cref="LengthFieldLayout.Adjustment"/> is <see cref="LengthAdjustment"/>, minus
    /// <see cref="HeaderLength"/> when <see cref="LengthIncludesHeader"/>.</remarks>
    public LengthFieldLayout LengthField => _layout;

    /// <inheritdoc />
    public int MaxHeaderLength => _layout.HeaderLength;

    /// <inheritdoc />
    public bool IsFixedWidth => true;

    /// <inheritdoc />
    public long MaxPayloadLength => _layout.MaxPayloadLength;

    /// <inheritdoc />
    public OperationStatus DecodeHeader(ReadOnlySpan<byte> source, out int headerLength, out long payloadLength)
    {
        LengthFieldLayout layout = _layout;
        if (source.Length < layout.HeaderLength)
        {
            headerLength = 0;
            payloadLength = 0;
            return OperationStatus.NeedMoreData;
        }

        if (!layout.TryGetPayloadLength(source, out payloadLength))
        {
            headerLength = 0;
            return OperationStatus.InvalidData;
        }

        headerLength = layout.HeaderLength;
        return OperationStatus.Done;
    }

    /// <inheritdoc />
    public FrameFormatException CreateHeaderException(ReadOnlySpan<byte> source)
    {
        ReadOnlySpan<byte> header = source.Slice(0, Math.Min(source.Length, _layout.HeaderLength));
        if (header.Length < _layout.HeaderLength)
        {
            return new FrameFormatException(string.Format(CultureInfo.InvariantCulture,
                "the header is incomplete ({0} of {1} bytes) and was reported as invalid by mistake", header.Length, _layout.HeaderLength), header);
        }

        ulong value = LengthFieldLayout.ReadField(_layout.Kind, header.Slice(FieldOffset), FieldWidth);
        string problem = value > long.MaxValue
            ? string.Format(CultureInfo.InvariantCulture, "the length field holds {0}, which overflows a 63-bit length ({1})", value, ToString())
            : string.Format(CultureInfo.InvariantCulture,
                "the length field holds {0}, which gives a payload length of {1} after the adjustment of {2}{3} ({4})",
                value, (decimal)value + _layout.Adjustment, _lengthAdjustment,
                _lengthIncludesHeader ? string.Format(CultureInfo.InvariantCulture, " and the {0}-byte header", HeaderLength) : string.Empty,
                ToString());
        return new FrameFormatException(problem, header);
    }

    /// <inheritdoc />
    public int GetHeaderLength(long payloadLength) => _layout.HeaderLength;

    /// <inheritdoc />
    public int WriteHeader(long payloadLength, Span<byte> destination)
    {
        LengthFieldLayout layout = _layout;
        if (payloadLength < 0)
        {
            ThrowHelper.ThrowNegativeLength(payloadLength);
        }

        if (payloadLength > layout.MaxPayloadLength)
        {
            ThrowHelper.ThrowPayloadTooLong(payloadLength, layout.MaxPayloadLength, ToString());
        }

        // payloadLength <= maxField + adjustment, so this cannot overflow.
        long field = payloadLength - layout.Adjustment;
        if (field < 0)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(payloadLength), payloadLength, string.Format(CultureInfo.InvariantCulture,
                "A payload of {0:N0} bytes cannot be described by {1}: the length field would be negative.", payloadLength, ToString()));
        }

        if (destination.Length < layout.HeaderLength)
        {
            ThrowHelper.ThrowDestinationTooSmall(layout.HeaderLength, destination.Length);
        }

        layout.WriteField((ulong)field, destination);
        return layout.HeaderLength;
    }

    /// <summary>Describes the layout, e.g. <c>4-byte big-endian length at offset 8 of a 24-byte header</c>.</summary>
    /// <returns>The description.</returns>
    public override string ToString()
    {
        string text = string.Format(CultureInfo.InvariantCulture, "{0}-byte {1} length at offset {2} of a {3}-byte header",
            FieldWidth, Endianness == Endianness.BigEndian ? "big-endian" : "little-endian", FieldOffset, HeaderLength);
        if (_lengthAdjustment != 0)
        {
            text += string.Format(CultureInfo.InvariantCulture, ", adjusted by {0}", _lengthAdjustment);
        }

        return _lengthIncludesHeader ? text + ", counting the header" : text;
    }
}
