using System;
using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
#if NET
using System.Numerics;
#endif
using System.Runtime.CompilerServices;
using HeaderFraming.Internal;

namespace HeaderFraming.Codecs;

/// <summary>
/// A fixed-width header holding the payload length in ASCII decimal digits, padded with spaces or zeros: the format of the
/// widely copied Python sockets tutorial (<c>f"{len(msg):&lt;10}" + msg</c>), byte for byte.
/// </summary>
/// <remarks>
/// <para>Example 1, the default (width 10, <see cref="AsciiAlignment.Left"/>): a 22-byte payload.</para>
/// <code>
///   10 bytes            22 bytes
/// +--------------+--------------------------+
/// | "22        " |  Welcome to the server!  |
/// +--------------+--------------------------+
/// </code>
/// <para>Example 2, <see cref="AsciiAlignment.Right"/>: <c>"        22"</c>. Example 3, <see cref="AsciiAlignment.ZeroPadded"/>: <c>"0000000022"</c>.</para>
/// <para>Decoding is strict about the configured layout: only digits and the padding of that layout, at least one digit,
/// no sign, no spaces between digits; anything else, and a value above <see cref="long.MaxValue"/>, is a
/// <see cref="FrameFormatException"/>. Leading zeros are accepted (Python's <c>int()</c> accepts them too).
/// The number is the payload length; the header is not counted. <see cref="FrameReaderOptions.MaxFrameLength"/> limits that
/// same number.</para>
/// </remarks>
public sealed class AsciiDecimalCodec : IFrameCodec
{
    /// <summary>The seed's header width: 10 bytes.</summary>
    public const int DefaultWidth = 10;

    /// <summary>The widest header supported: 19 digits, enough for any 63-bit length.</summary>
    public const int MaxWidth = 19;

    private readonly int _width;
    private readonly AsciiAlignment _alignment;
    private readonly long _maxPayloadLength;

    /// <summary>Creates a codec for headers of <paramref name="width"/> ASCII characters.</summary>
    /// <param name="width">The header width in bytes, 1 to <see cref="MaxWidth"/>; the seed uses <see cref="DefaultWidth"/>.</param>
    /// <param name="alignment">How the digits are padded; the seed uses <see cref="AsciiAlignment.Left"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException">The width or alignment is out of range.</exception>
    public AsciiDecimalCodec(int width = DefaultWidth, AsciiAlignment alignment = AsciiAlignment.Left)
    {
        if (width < 1 || width > MaxWidth)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(width), width, $"An ASCII decimal header is 1 to {MaxWidth} bytes wide.");
        }

        if (alignment != AsciiAlignment.Left && alignment != AsciiAlignment.Right && alignment != AsciiAlignment.ZeroPadded)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(alignment), alignment, "Unknown alignment.");
        }

        _width = width;
        _alignment = alignment;
        _maxPayloadLength = width >= MaxWidth ? long.MaxValue : Pow10(width) - 1;
    }

    /// <summary>The seed's format: 10 bytes, left-aligned, space-padded (<c>"22        "</c>).</summary>
    public static AsciiDecimalCodec Default { get; } = new AsciiDecimalCodec();

    /// <summary>The header width in bytes.</summary>
    public int Width => _width;

    /// <summary>How the digits are padded.</summary>
    public AsciiAlignment Alignment => _alignment;

    /// <inheritdoc />
    public int MaxHeaderLength => _width;

    /// <inheritdoc />
    public bool IsFixedWidth => true;

    /// <inheritdoc />
    /// <remarks>10<sup>width</sup> − 1 (9,999,999,999 for the default), capped at <see cref="long.MaxValue"/>.</remarks>
    public long MaxPayloadLength => _maxPayloadLength;

    /// <inheritdoc />
    /// <remarks>Small enough to be inlined where the reader calls it (after PGO's guarded devirtualization): the seed's
    /// header is decoded eight bytes at a time, every other case in a method of its own.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public OperationStatus DecodeHeader(ReadOnlySpan<byte> source, out int headerLength, out long payloadLength)
    {
#if NET
        if (_width == DefaultWidth && _alignment == AsciiAlignment.Left && source.Length >= DefaultWidth)
        {
            // The seed's header, eight bytes at a time (SWAR): t holds each byte minus '0'; a byte is a digit when that is
            // below 10. Adding 0x76 sets the high bit of every byte of 10 or more, and OR-ing t catches bytes of 0x80 or more;
            // a carry can only come out of a non-digit byte, so the lowest flagged byte is the first non-digit.
            ulong lo = BinaryPrimitives.ReadUInt64LittleEndian(source);
            ulong t = lo ^ 0x3030303030303030UL;
            ulong nonDigits = ((t + 0x7676767676767676UL) | t) & 0x8080808080808080UL;
            if (nonDigits != 0 && BinaryPrimitives.ReadUInt16LittleEndian(source.Slice(8)) == 0x2020)
            {
                int digits = BitOperations.TrailingZeroCount(nonDigits) >> 3;
                if (digits != 0 && ((lo ^ 0x2020202020202020UL) & (ulong.MaxValue << (digits * 8))) == 0)
                {
                    headerLength = DefaultWidth;
                    // Starting from the first digit keeps a multiply-add off the chain the next frame's position waits for.
                    ulong value = (byte)t;
                    for (int i = 1; i < digits; i++)
                    {
                        value = (value * 10) + (byte)(t >> (i * 8));
                    }

                    payloadLength = (long)value;
                    return OperationStatus.Done;
                }
            }
        }
#endif

        return DecodeSlow(source, out headerLength, out payloadLength);
    }

#if NET
    /// <summary>The value of eight decimal digits, one per byte, the most significant in the lowest byte (leading zeros for
    /// fewer digits): three multiplications join pairs of digits, then pairs of pairs, then the two halves.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static long EightDigits(ulong digits)
    {
        ulong pairs = (digits * ((10 << 8) + 1)) >> 8;
        ulong quads = ((pairs & 0x00FF00FF00FF00FFUL) * ((100 << 16) + 1)) >> 16;
        return (long)(uint)(((quads & 0x0000FFFF0000FFFFUL) * ((10000UL << 32) + 1)) >> 32);
    }
#endif

    [MethodImpl(MethodImplOptions.NoInlining)]
    private OperationStatus DecodeSlow(ReadOnlySpan<byte> source, out int headerLength, out long payloadLength)
    {
        if (source.Length < _width)
        {
            headerLength = 0;
            payloadLength = 0;
            return OperationStatus.NeedMoreData;
        }

        return DecodeAnyLayout(source.Slice(0, _width), out headerLength, out payloadLength);
    }

    /// <inheritdoc />
    public FrameFormatException CreateHeaderException(ReadOnlySpan<byte> source)
    {
        ReadOnlySpan<byte> header = source.Slice(0, Math.Min(source.Length, _width));
        int bad = FindBadCharacter(header);
        if (bad >= 0 && header.Length == _width)
        {
            return new FrameFormatException(DescribeBadCharacter(header, bad), header);
        }

        if (header.Length == _width && bad < 0)
        {
            ulong value = 0;
            foreach (byte b in header)
            {
                if (b != (byte)' ')
                {
                    value = (value * 10) + (uint)(b - '0');
                }
            }

            return new FrameFormatException(
                string.Format(CultureInfo.InvariantCulture, "the ASCII length {0} overflows a 63-bit length", value), header);
        }

        return new FrameFormatException(string.Format(CultureInfo.InvariantCulture,
            "the header is incomplete ({0} of {1} bytes) and was reported as invalid by mistake", header.Length, _width), header);
    }

    /// <inheritdoc />
    public int GetHeaderLength(long payloadLength) => _width;

    /// <inheritdoc />
    public int WriteHeader(long payloadLength, Span<byte> destination)
    {
        if ((ulong)payloadLength > (ulong)_maxPayloadLength)
        {
            if (payloadLength < 0)
            {
                ThrowHelper.ThrowNegativeLength(payloadLength);
            }

            ThrowHelper.ThrowPayloadTooLong(payloadLength, _maxPayloadLength, ToString());
        }

        if (destination.Length < _width)
        {
            ThrowHelper.ThrowDestinationTooSmall(_width, destination.Length);
        }

        Span<byte> header = destination.Slice(0, _width);
        ulong value = (ulong)payloadLength;
        int digits = CountDigits(value);
        int digitsStart = _alignment == AsciiAlignment.Left ? 0 : _width - digits;
        if (_alignment == AsciiAlignment.Left)
        {
            header.Slice(digits).Fill((byte)' ');
        }
        else
        {
            header.Slice(0, digitsStart).Fill(_alignment == AsciiAlignment.ZeroPadded ? (byte)'0' : (byte)' ');
        }

        for (int i = digitsStart + digits - 1; i > digitsStart; i--)
        {
            ulong quotient = value / 10;
            header[i] = (byte)('0' + (int)(value - (quotient * 10)));
            value = quotient;
        }

        header[digitsStart] = (byte)('0' + (int)value);
        return _width;
    }

    /// <summary>Describes the layout, e.g. <c>ASCII decimal, 10 bytes, left-aligned</c>.</summary>
    /// <returns>The description.</returns>
    public override string ToString()
        => string.Format(CultureInfo.InvariantCulture, "ASCII decimal, {0} bytes, {1}", _width,
            _alignment switch
            {
                AsciiAlignment.Left => "left-aligned",
                AsciiAlignment.Right => "right-aligned",
                _ => "zero-padded",
            });

    /// <summary>Any width and alignment, one byte at a time.</summary>
    private OperationStatus DecodeAnyLayout(ReadOnlySpan<byte> header, out int headerLength, out long payloadLength)
    {
        headerLength = 0;
        payloadLength = 0;
        if (FindBadCharacter(header) >= 0)
        {
            return OperationStatus.InvalidData;
        }

        // Only digits and the layout's padding are left.
        ulong value = 0;
        foreach (byte b in header)
        {
            uint digit = (uint)(b - '0');
            if (digit <= 9)
            {
                value = (value * 10) + digit;
            }
        }

        // Up to 18 digits cannot exceed long.MaxValue; 19 digits can (and cannot overflow a ulong).
        if (value > long.MaxValue)
        {
            return OperationStatus.InvalidData;
        }

        headerLength = header.Length;
        payloadLength = (long)value;
        return OperationStatus.Done;
    }

    /// <summary>The index of the first byte that breaks the layout, or -1 when it is only digits and padding (one digit at least).</summary>
    private int FindBadCharacter(ReadOnlySpan<byte> header)
    {
        int i = 0;
        if (_alignment == AsciiAlignment.Left)
        {
            // Digits, then spaces only.
            while (i < header.Length && (uint)(header[i] - '0') <= 9)
            {
                i++;
            }

            if (i == 0)
            {
                return 0;
            }

            for (; i < header.Length; i++)
            {
                if (header[i] != (byte)' ')
                {
                    return i;
                }
            }

            return -1;
        }

        if (_alignment == AsciiAlignment.Right)
        {
            while (i < header.Length && header[i] == (byte)' ')
            {
                i++;
            }

            if (i == header.Length)
            {
                return 0;
            }
        }

        for (; i < header.Length; i++)
        {
            if ((uint)(header[i] - '0') > 9)
            {
                return i;
            }
        }

        return -1;
    }

    private string DescribeBadCharacter(ReadOnlySpan<byte> header, int index)
    {
        byte b = header[index];
        string layout = ToString();
        if (IsAllSpaces(header))
        {
            return $"the {layout} header is all spaces; it must hold at least one digit";
        }

        if (b == (byte)'+' || b == (byte)'-')
        {
            return string.Format(CultureInfo.InvariantCulture,
                "byte {0} of the {1} header is a sign ('{2}'); lengths are unsigned digits only", index, layout, (char)b);
        }

        if (b == (byte)' ')
        {
            return string.Format(CultureInfo.InvariantCulture,
                "byte {0} of the {1} header is a space where a digit was expected (no leading or interior spaces in this layout)", index, layout);
        }

        string expected = _alignment switch
        {
            AsciiAlignment.Left => "a digit or, after the digits, a space",
            AsciiAlignment.Right => "a digit or, before the digits, a space",
            _ => "a digit",
        };
        return string.Format(CultureInfo.InvariantCulture,
            "byte {0} of the {1} header is \"{2}\" (0x{3:X2}); expected {4}", index, layout,
            HeaderFormatter.Escape(header.Slice(index, 1)), b, expected);
    }

    private static bool IsAllSpaces(ReadOnlySpan<byte> header)
    {
        foreach (byte b in header)
        {
            if (b != (byte)' ')
            {
                return false;
            }
        }

        return true;
    }

    private static int CountDigits(ulong value)
    {
        int digits = 1;
        ulong bound = 10;
        while (value >= bound && digits < 20)
        {
            digits++;
            if (bound > ulong.MaxValue / 10)
            {
                break;
            }

            bound *= 10;
        }

        return digits;
    }

    private static long Pow10(int exponent)
    {
        long result = 1;
        for (int i = 0; i < exponent; i++)
        {
            result *= 10;
        }

        return result;
    }
}
