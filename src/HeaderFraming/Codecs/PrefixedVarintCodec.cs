using System;
using System.Buffers;
using System.Globalization;
using HeaderFraming.Internal;

namespace HeaderFraming.Codecs;

/// <summary>
/// A header of <see cref="PrefixLength"/> fixed bytes that the caller supplies (a control byte, a type) followed by the
/// payload length as an unsigned varint of at most <see cref="MaxVarintLength"/> bytes: 7 bits a byte, least significant
/// group first, the high bit (<c>0x80</c>) set on every byte but the last. MQTT's fixed header is the preset
/// <see cref="Protocols.Mqtt.Codec"/>: one control byte, then a "remaining length" of 1 to 4 bytes.
/// </summary>
/// <remarks>
/// <para>Example 1, MQTT 3.1.1 (<c>new PrefixedVarintCodec(prefixLength: 1, maxVarintLength: 4)</c>): a PUBLISH
/// (control byte <c>0x30</c>) with a 321-byte remaining length.</para>
/// <code>
/// +- prefix -+-- varint --+------------------------+
/// |   0x30   | \xC1\x02   |  321 bytes             |
/// +----------+------------+------------------------+
///  0          1            3
/// </code>
/// <para>Example 2, a prefix of 0 bytes and 9 varint bytes decodes exactly as <see cref="VarintCodec.Instance"/> does
/// (which stays the fastest way to read a plain varint: this codec is a sibling, so that one's hot path is untouched).</para>
/// <para>Decoding rejects, with <see cref="OperationStatus.InvalidData"/> and a <see cref="FrameFormatException"/> that names the
/// byte: a varint whose <see cref="MaxVarintLength"/>-th byte still has the continuation bit (MQTT: "the remaining length is
/// longer than 4 bytes"), and — unless <see cref="AcceptsOverlongEncodings"/> — an encoding longer than it needs to be (a last
/// byte of <c>0x00</c> after a continuation byte, as in <c>80 00</c>). The prefix bytes are neither read nor validated: they
/// belong to the protocol above (<see cref="Frame.Header"/> shows them).</para>
/// <para>Writing (<see cref="WriteHeader"/>): the first <see cref="PrefixLength"/> bytes of the destination already hold the
/// caller's prefix (as <see cref="IHeaderPrefixCodec"/> says, <see cref="FrameWriter"/> copies them there); the codec writes the
/// varint after them, always in its shortest form, and returns the whole header's length.</para>
/// </remarks>
public sealed class PrefixedVarintCodec : IHeaderPrefixCodec
{
    private readonly int _prefixLength;
    private readonly int _maxVarintLength;
    private readonly long _maxPayloadLength;
    private readonly bool _acceptsOverlong;

    /// <summary>Creates a varint codec after fixed prefix bytes.</summary>
    /// <param name="prefixLength">How many caller-supplied bytes come before the varint, 0 to 65,535.</param>
    /// <param name="maxVarintLength">The most bytes the varint may occupy, 1 to <see cref="VarintCodec.MaxEncodedLength"/> (9);
    /// it also sets <see cref="MaxPayloadLength"/> to 2^(7 × <paramref name="maxVarintLength"/>) − 1.</param>
    /// <param name="acceptsOverlongEncodings"><see langword="true"/> to accept a varint with needless trailing zero groups
    /// (<c>80 00</c> for 0); <see langword="false"/> (the default) rejects it as malformed.</param>
    /// <exception cref="ArgumentOutOfRangeException">A length is outside its range.</exception>
    public PrefixedVarintCodec(int prefixLength, int maxVarintLength = VarintCodec.MaxEncodedLength, bool acceptsOverlongEncodings = false)
    {
        if (prefixLength < 0 || prefixLength > ushort.MaxValue)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(prefixLength), prefixLength, "The prefix is 0 to 65,535 bytes long.");
        }

        if (maxVarintLength < 1 || maxVarintLength > VarintCodec.MaxEncodedLength)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(maxVarintLength), maxVarintLength,
                "A varint length is 1 to 9 bytes (9 bytes carry 63 bits, any length up to 2^63 - 1).");
        }

        _prefixLength = prefixLength;
        _maxVarintLength = maxVarintLength;
        _maxPayloadLength = maxVarintLength == VarintCodec.MaxEncodedLength ? long.MaxValue : (1L << (7 * maxVarintLength)) - 1;
        _acceptsOverlong = acceptsOverlongEncodings;
    }

    /// <inheritdoc />
    public int PrefixLength => _prefixLength;

    /// <summary>The most bytes the varint may occupy (4 for MQTT).</summary>
    public int MaxVarintLength => _maxVarintLength;

    /// <summary>Whether a varint with needless trailing zero groups (<c>80 00</c>) is accepted rather than rejected.</summary>
    public bool AcceptsOverlongEncodings => _acceptsOverlong;

    /// <inheritdoc />
    public int MaxHeaderLength => _prefixLength + _maxVarintLength;

    /// <inheritdoc />
    public bool IsFixedWidth => false;

    /// <inheritdoc />
    /// <remarks>2^(7 × <see cref="MaxVarintLength"/>) − 1: 268,435,455 for MQTT's 4 bytes.</remarks>
    public long MaxPayloadLength => _maxPayloadLength;

    /// <inheritdoc />
    public OperationStatus DecodeHeader(ReadOnlySpan<byte> source, out int headerLength, out long payloadLength)
    {
        int prefix = _prefixLength;

        // The common case first: a 1-byte varint (MQTT: a remaining length under 128).
        if (source.Length > prefix && source[prefix] < 0x80)
        {
            headerLength = prefix + 1;
            payloadLength = source[prefix];
            return OperationStatus.Done;
        }

        headerLength = 0;
        payloadLength = 0;
        if (source.Length <= prefix)
        {
            return OperationStatus.NeedMoreData;
        }

        ReadOnlySpan<byte> varint = source.Slice(prefix);
        int limit = Math.Min(varint.Length, _maxVarintLength);
        ulong value = 0;
        for (int i = 0; i < limit; i++)
        {
            byte b = varint[i];
            value |= (ulong)(b & 0x7F) << (7 * i);
            if (b < 0x80)
            {
                if (b == 0 && !_acceptsOverlong)
                {
                    // i > 0 here: a 1-byte varint took the fast path above.
                    return OperationStatus.InvalidData;
                }

                headerLength = prefix + i + 1;
                payloadLength = (long)value;
                return OperationStatus.Done;
            }
        }

        return varint.Length >= _maxVarintLength ? OperationStatus.InvalidData : OperationStatus.NeedMoreData;
    }

    /// <inheritdoc />
    public FrameFormatException CreateHeaderException(ReadOnlySpan<byte> source)
    {
        ReadOnlySpan<byte> header = source.Slice(0, Math.Min(source.Length, MaxHeaderLength));
        if (header.Length <= _prefixLength)
        {
            return IncompleteReportedAsInvalid(header);
        }

        ReadOnlySpan<byte> varint = header.Slice(_prefixLength);
        for (int i = 0; i < varint.Length; i++)
        {
            if (varint[i] < 0x80)
            {
                if (varint[i] != 0 || i == 0 || _acceptsOverlong)
                {
                    return new FrameFormatException(
                        "the header is valid and was reported as invalid by mistake", header.Slice(0, _prefixLength + i + 1));
                }

                return new FrameFormatException(string.Format(CultureInfo.InvariantCulture,
                    "byte {0} of the header (varint byte {1}) is 0x00 after a continuation byte: the varint is over-long (a shorter encoding of the same value exists); expected a last byte of 0x01 to 0x7F ({2})",
                    _prefixLength + i, i + 1, ToString()), header.Slice(0, _prefixLength + i + 1));
            }
        }

        if (varint.Length < _maxVarintLength)
        {
            return IncompleteReportedAsInvalid(header);
        }

        return new FrameFormatException(string.Format(CultureInfo.InvariantCulture,
            "the varint length is longer than {0} bytes: byte {1} of the header (varint byte {0}) is 0x{2:X2}, whose continuation bit 0x80 is set; expected a last byte below 0x80 ({3})",
            _maxVarintLength, _prefixLength + _maxVarintLength - 1, varint[_maxVarintLength - 1], ToString()), header);
    }

    /// <inheritdoc />
    public int GetHeaderLength(long payloadLength)
    {
        if (payloadLength < 0)
        {
            ThrowHelper.ThrowNegativeLength(payloadLength);
        }

        if (payloadLength > _maxPayloadLength)
        {
            ThrowHelper.ThrowPayloadTooLong(payloadLength, _maxPayloadLength, ToString());
        }

        int length = 1;
        ulong value = (ulong)payloadLength;
        while (value >= 0x80)
        {
            value >>= 7;
            length++;
        }

        return _prefixLength + length;
    }

    /// <inheritdoc />
    /// <remarks>The first <see cref="PrefixLength"/> bytes of <paramref name="destination"/> are the caller's and are left as
    /// they are; the varint is written after them in its shortest form.</remarks>
    public int WriteHeader(long payloadLength, Span<byte> destination)
    {
        int length = GetHeaderLength(payloadLength);
        if (destination.Length < length)
        {
            ThrowHelper.ThrowDestinationTooSmall(length, destination.Length);
        }

        ulong value = (ulong)payloadLength;
        int i = _prefixLength;
        while (value >= 0x80)
        {
            destination[i++] = (byte)(value | 0x80);
            value >>= 7;
        }

        destination[i] = (byte)value;
        return length;
    }

    /// <summary>Describes the codec, e.g. <c>1 prefix byte, then a varint length of at most 4 bytes</c>.</summary>
    /// <returns>The description.</returns>
    public override string ToString()
        => string.Format(CultureInfo.InvariantCulture, "{0} prefix byte{1}, then a varint length of at most {2} bytes{3}",
            _prefixLength, _prefixLength == 1 ? string.Empty : "s", _maxVarintLength, _acceptsOverlong ? ", over-long encodings accepted" : string.Empty);

    private static FrameFormatException IncompleteReportedAsInvalid(ReadOnlySpan<byte> header)
        => new FrameFormatException(string.Format(CultureInfo.InvariantCulture,
            "the header is incomplete ({0} bytes) and was reported as invalid by mistake", header.Length), header);
}
