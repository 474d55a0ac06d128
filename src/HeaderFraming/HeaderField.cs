using System;
using System.Buffers;
using System.Globalization;
using HeaderFraming.Codecs;
using HeaderFraming.Internal;

namespace HeaderFraming;

/// <summary>
/// An unsigned integer at a fixed place of a fixed header other than its length — a type byte, flags, a channel, a stream
/// id, a sequence id — read and written without hand slicing: <see cref="Width"/> bytes at <see cref="Offset"/> in
/// <see cref="Endianness"/> order, of which only the bits in <see cref="Mask"/> belong to the field.
/// </summary>
/// <remarks>
/// <para>The field's value is <c>(integer &amp; Mask) &gt;&gt; shift</c>, where the integer is the <see cref="Width"/> bytes
/// and the shift is the number of trailing zero bits of the mask. Writing changes only the masked bits, so fields that
/// share bytes (MQTT's packet type and flags in one byte; HTTP/2's reserved bit and stream id) are written one after the
/// other without disturbing each other.</para>
/// <para>Example, the HTTP/2 frame header (<see cref="Protocols.Http2"/>):</para>
/// <code>
/// +--- length: u24 ---+-type-+-flags-+-R-+--- stream id: u31 ---+
/// |     00 00 0C      | 0x01 | 0x04  | 0 |     00 00 00 01      |
/// +-------------------+------+-------+---+----------------------+
///  0                   3      4       5
/// Type     = new HeaderField(3, 1)
/// StreamId = new HeaderField(5, 4, Endianness.BigEndian, mask: 0x7FFF_FFFF)
/// </code>
/// <para>Example, MQTT's control byte (<see cref="Protocols.Mqtt"/>): the packet type is the high nibble,
/// <c>new HeaderField(0, 1, mask: 0xF0)</c>, the flags the low one, <c>new HeaderField(0, 1, mask: 0x0F)</c>.</para>
/// <para>Read a received frame's field with <see cref="HeaderFieldExtensions.Read(in Frame, HeaderField)"/>.</para>
/// </remarks>
public readonly struct HeaderField : IEquatable<HeaderField>
{
    private readonly ulong _mask;
    private readonly ushort _offset;
    private readonly byte _width;
    private readonly byte _shift;
    private readonly Endianness _endianness;

    /// <summary>Describes a header field.</summary>
    /// <param name="offset">Where the field's first byte is in the header, 0 to 65,534.</param>
    /// <param name="width">How many bytes hold the field, 1 to 8.</param>
    /// <param name="endianness">The byte order of those bytes (irrelevant for 1 byte).</param>
    /// <param name="mask">The bits of the <paramref name="width"/>-byte integer that belong to the field: one run of
    /// consecutive set bits (the default, all bits of the width). E.g. <c>0xF0</c> for a high nibble.</param>
    /// <exception cref="ArgumentOutOfRangeException">The offset or width is out of range, or the mask is zero, has bits
    /// beyond the width, or is not one run of set bits.</exception>
    public HeaderField(int offset, int width, Endianness endianness = Endianness.BigEndian, ulong mask = ulong.MaxValue)
    {
        if (offset < 0 || offset >= ushort.MaxValue)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(offset), offset, "A header field's offset is 0 to 65,534.");
        }

        if (width < 1 || width > 8)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(width), width, "A header field is 1 to 8 bytes wide.");
        }

        if (endianness != Endianness.BigEndian && endianness != Endianness.LittleEndian)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(endianness), endianness, "Unknown byte order.");
        }

        ulong widthBits = width == 8 ? ulong.MaxValue : (1UL << (8 * width)) - 1;
        if (mask == ulong.MaxValue)
        {
            mask = widthBits;
        }

        int shift = 0;
        while (shift < 64 && ((mask >> shift) & 1) == 0)
        {
            shift++;
        }

        ulong run = shift == 64 ? 0 : mask >> shift;
        if (mask == 0 || (mask & ~widthBits) != 0 || (run & (run + 1)) != 0)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(mask), mask, string.Format(CultureInfo.InvariantCulture,
                "The mask must be one run of consecutive set bits within the field's {0} byte{1} (at most 0x{2:X}).",
                width, width == 1 ? string.Empty : "s", widthBits));
        }

        _mask = mask;
        _offset = (ushort)offset;
        _width = (byte)width;
        _shift = (byte)shift;
        _endianness = endianness;
    }

    /// <summary>Where the field's first byte is in the header.</summary>
    public int Offset => _offset;

    /// <summary>How many bytes hold the field; 0 for the <see langword="default"/> value, which describes no field.</summary>
    public int Width => _width;

    /// <summary>The byte order of the field's bytes.</summary>
    public Endianness Endianness => _endianness;

    /// <summary>The bits of the <see cref="Width"/>-byte integer that belong to the field.</summary>
    public ulong Mask => _mask;

    /// <summary>The largest value the field holds: <c>Mask &gt;&gt; shift</c> (255 for a whole byte, 15 for a nibble).</summary>
    public ulong MaxValue => _mask >> _shift;

    /// <summary>How many header bytes the field needs: <c>Offset + Width</c>.</summary>
    public int End => _offset + _width;

    /// <summary>Two fields are equal when they describe the same bits.</summary>
    /// <param name="left">A field.</param>
    /// <param name="right">Another field.</param>
    /// <returns>Whether they are equal.</returns>
    public static bool operator ==(HeaderField left, HeaderField right) => left.Equals(right);

    /// <summary>Two fields differ when they describe different bits.</summary>
    /// <param name="left">A field.</param>
    /// <param name="right">Another field.</param>
    /// <returns>Whether they differ.</returns>
    public static bool operator !=(HeaderField left, HeaderField right) => !left.Equals(right);

    /// <summary>Reads the field from a header.</summary>
    /// <param name="header">The header (at least <see cref="End"/> bytes; e.g. <see cref="Frame.HeaderSpan"/>).</param>
    /// <returns>The field's value, 0 to <see cref="MaxValue"/>.</returns>
    /// <exception cref="ArgumentException">The header is shorter than <see cref="End"/>.</exception>
    /// <exception cref="InvalidOperationException">This is the <see langword="default"/> value, which describes no field.</exception>
    public ulong Read(ReadOnlySpan<byte> header)
    {
        CheckHeader(header.Length);
        return (ReadInteger(header.Slice(_offset, _width)) & _mask) >> _shift;
    }

    /// <summary>Reads the field from a header that may be split across segments (e.g. <see cref="Frame.Header"/>).</summary>
    /// <param name="header">The header (at least <see cref="End"/> bytes).</param>
    /// <returns>The field's value, 0 to <see cref="MaxValue"/>.</returns>
    /// <exception cref="ArgumentException">The header is shorter than <see cref="End"/>.</exception>
    /// <exception cref="InvalidOperationException">This is the <see langword="default"/> value, which describes no field.</exception>
    public ulong Read(in ReadOnlySequence<byte> header)
    {
        CheckHeader(header.Length);
        Span<byte> bytes = stackalloc byte[8];
        bytes = bytes.Slice(0, _width);
        header.Slice(_offset, _width).CopyTo(bytes);
        return (ReadInteger(bytes) & _mask) >> _shift;
    }

    /// <summary>Writes the field into a header, leaving every bit outside <see cref="Mask"/> as it is.</summary>
    /// <param name="header">The header (at least <see cref="End"/> bytes).</param>
    /// <param name="value">The value, 0 to <see cref="MaxValue"/>; never truncated.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="value"/> is above <see cref="MaxValue"/>.</exception>
    /// <exception cref="ArgumentException">The header is shorter than <see cref="End"/>.</exception>
    /// <exception cref="InvalidOperationException">This is the <see langword="default"/> value, which describes no field.</exception>
    public void Write(Span<byte> header, ulong value)
    {
        CheckHeader(header.Length);
        if (value > MaxValue)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(value), value, string.Format(CultureInfo.InvariantCulture,
                "{0} does not fit the header field {1}, which holds at most {2}; a field is never truncated.", value, ToString(), MaxValue));
        }

        Span<byte> bytes = header.Slice(_offset, _width);
        ulong integer = (ReadInteger(bytes) & ~_mask) | (value << _shift);
        if (_endianness == Endianness.BigEndian)
        {
            for (int i = bytes.Length - 1; i >= 0; i--)
            {
                bytes[i] = (byte)integer;
                integer >>= 8;
            }
        }
        else
        {
            for (int i = 0; i < bytes.Length; i++)
            {
                bytes[i] = (byte)integer;
                integer >>= 8;
            }
        }
    }

    /// <inheritdoc />
    public bool Equals(HeaderField other)
        => _mask == other._mask && _offset == other._offset && _width == other._width && _endianness == other._endianness;

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is HeaderField other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => (_mask.GetHashCode() * 31) ^ (_offset << 16) ^ (_width << 8) ^ (int)_endianness;

    /// <summary>Describes the field, e.g. <c>4-byte big-endian field at offset 5, mask 0x7FFFFFFF</c>.</summary>
    /// <returns>The description.</returns>
    public override string ToString()
    {
        string text = string.Format(CultureInfo.InvariantCulture, "{0}-byte{1} field at offset {2}", _width,
            _width == 1 ? string.Empty : _endianness == Endianness.BigEndian ? " big-endian" : " little-endian", _offset);
        ulong widthBits = _width == 8 ? ulong.MaxValue : (1UL << (8 * _width)) - 1;
        return _mask != widthBits ? text + string.Format(CultureInfo.InvariantCulture, ", mask 0x{0:X}", _mask) : text;
    }

    private ulong ReadInteger(ReadOnlySpan<byte> bytes)
    {
        ulong value = 0;
        if (_endianness == Endianness.BigEndian)
        {
            for (int i = 0; i < bytes.Length; i++)
            {
                value = (value << 8) | bytes[i];
            }
        }
        else
        {
            for (int i = bytes.Length - 1; i >= 0; i--)
            {
                value = (value << 8) | bytes[i];
            }
        }

        return value;
    }

    private void CheckHeader(long headerLength)
    {
        if (_width == 0)
        {
            ThrowHelper.ThrowInvalidOperation("This HeaderField is the default value, which describes no field: create one with its constructor.");
        }

        if (headerLength < End)
        {
            ThrowHelper.ThrowArgument("header", string.Format(CultureInfo.InvariantCulture,
                "The header has {0} bytes; the {1} needs {2}.", headerLength, ToString(), End));
        }
    }
}
