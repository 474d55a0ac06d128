using System;
using System.Buffers;
using System.Globalization;
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
public sealed class AsciiDecimalCodec : ILengthFieldCodec
{
    /// <summary>The seed's header width: 10 bytes.</summary>
    public const int DefaultWidth = 10;

    /// <summary>The widest header supported: 19 digits, enough for any 63-bit length.</summary>
    public const int MaxWidth = 19;

    private readonly int _width;
    private readonly AsciiAlignment _alignment;
    private readonly long _maxPayloadLength;
    private readonly LengthFieldLayout _layout;

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
        _layout = LengthFieldLayout.AsciiDecimal(width, alignment);
        _maxPayloadLength = _layout.MaxPayloadLength;
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
    /// <remarks><see cref="LengthFieldLayout.AsciiDecimal(int, AsciiAlignment)"/> of this width and alignment, which the
    /// drivers decode and encode inline.</remarks>
    public LengthFieldLayout LengthField => _layout;

    /// <inheritdoc />
    public OperationStatus DecodeHeader(ReadOnlySpan<byte> source, out int headerLength, out long payloadLength)
    {
        if (source.Length < _width)
        {
            headerLength = 0;
            payloadLength = 0;
            return OperationStatus.NeedMoreData;
        }

        if (!_layout.TryGetPayloadLength(source, out payloadLength))
        {
            headerLength = 0;
            return OperationStatus.InvalidData;
        }

        headerLength = _width;
        return OperationStatus.Done;
    }

    /// <inheritdoc />
    public FrameFormatException CreateHeaderException(ReadOnlySpan<byte> source)
    {
        ReadOnlySpan<byte> header = source.Slice(0, Math.Min(source.Length, _width));
        int bad = AsciiDigits.FindBadCharacter(header, _alignment);
        if (bad >= 0 && header.Length == _width)
        {
            return new FrameFormatException(DescribeBadCharacter(header, bad), header);
        }

        if (header.Length == _width && bad < 0)
        {
            // Only digits and padding (FindBadCharacter found nothing), so this is the field's value, over long.MaxValue.
            ulong value = AsciiDigits.Read(header, _alignment);
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

        AsciiDigits.Write((ulong)payloadLength, destination.Slice(0, _width), _alignment);
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
}
