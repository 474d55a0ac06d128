using System;
using System.Buffers.Binary;
#if NET
using System.Numerics;
#endif
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using HeaderFraming.Codecs;

namespace HeaderFraming.Internal;

/// <summary>ASCII decimal length fields: the one place their layouts are parsed, validated and written, for
/// <see cref="LengthFieldLayout"/> (and so for the drivers' inline paths) and <see cref="AsciiDecimalCodec"/> alike.</summary>
internal static class AsciiDigits
{
    /// <summary>The field value that stands for "not a valid field": above <see cref="long.MaxValue"/>, so every length check
    /// refuses it, as it refuses a binary field that overflows a 63-bit length.</summary>
    internal const ulong Invalid = ulong.MaxValue;

    /// <summary>Whether <see cref="ReadLeft10Short"/> reads eight bytes at a time (not on netstandard2.0, where it always
    /// answers <see cref="Invalid"/>).</summary>
#if NET
    internal const bool ReadsWordAtATime = true;
#else
    internal const bool ReadsWordAtATime = false;
#endif

    /// <summary>The seed's field (10 bytes, left-aligned, space-padded) of a span of at least 10 bytes, or <see cref="Invalid"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong ReadLeft10(ReadOnlySpan<byte> field)
    {
        ulong value = ReadLeft10Short(field);
        return value != Invalid ? value : Read(field.Slice(0, AsciiDecimalCodec.DefaultWidth), AsciiAlignment.Left);
    }

    /// <summary>The seed's field when it holds one to eight digits (every length below 100 MB), eight bytes at a time;
    /// <see cref="Invalid"/> for any other field, valid or not (<see cref="Read"/> tells them apart). The span may be
    /// shorter than 10 bytes (then <see cref="Invalid"/>).</summary>
    /// <remarks>A value rather than a <see langword="bool"/> and an <see langword="out"/> value: the reader's inline path
    /// sends <see cref="Invalid"/> to its slow path through the length checks it makes anyway, so the JIT has no flag to
    /// materialise and test again.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong ReadLeft10Short(ReadOnlySpan<byte> field)
    {
#if NET
        if (field.Length >= AsciiDecimalCodec.DefaultWidth)
        {
            // Ten bytes are there: read them without bounds checks. The span loop over the seed's header is bound by the
            // instructions it runs per frame, not by latency, so this path is written for few instructions, and for a
            // short chain from the field's load to the next frame's position.
            ref byte first = ref MemoryMarshal.GetReference(field);
            ulong lo = Unsafe.ReadUnaligned<ulong>(ref first);
            if (!BitConverter.IsLittleEndian)
            {
                lo = BinaryPrimitives.ReverseEndianness(lo);
            }

            // Spaces XOR 0x20 are zero bytes, so the padding is the zero bytes at the top of lo ^ 0x20...: padBits is 8 per
            // space at the end of the first eight bytes (0 when there is none, or when all eight are spaces). Every byte
            // before the padding must be a digit: in t = lo ^ 0x30... it is then below 10, and adding 0x76 leaves its high
            // bit clear (OR-ing t catches bytes of 0x80 or more; a carry comes only out of a byte that is flagged itself).
            // Eight spaces leave padBits 0 and fail as non-digits; a space among the digits fails as a non-digit too.
            int padBits = BitOperations.LeadingZeroCount(lo ^ 0x2020202020202020UL) & 56;
            ulong t = lo ^ 0x3030303030303030UL;
            if ((((t + 0x7676767676767676UL) | t) & (0x8080808080808080UL >> padBits)) == 0
                && Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref first, 8)) == 0x2020)
            {
                // The digits from t, the most significant first (t's low byte is ready when the load is, so the chain to
                // the value is the load, the XOR and two LEAs per further digit): one further digit per byte between the
                // first and the padding, 56 - padBits bits, counted up to zero so that the loop's add sets its flags.
                ulong result = (byte)t;
                for (int bits = padBits - 56; bits < 0; bits += 8)
                {
                    t >>= 8;
                    result = (result * 10) + (byte)t;
                }

                return result;
            }
        }
#endif

        return Invalid;
    }

    /// <summary>Any width (1 to 19) and alignment, one byte at a time: the value, or <see cref="Invalid"/>.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal static ulong Read(ReadOnlySpan<byte> field, AsciiAlignment alignment)
    {
        if (FindBadCharacter(field, alignment) >= 0)
        {
            return Invalid;
        }

        // Only digits and the layout's padding are left; 19 digits cannot overflow a ulong.
        ulong value = 0;
        foreach (byte b in field)
        {
            uint digit = (uint)(b - '0');
            if (digit <= 9)
            {
                value = (value * 10) + digit;
            }
        }

        return value;
    }

    /// <summary>The index of the first byte that breaks the layout, or -1 when the field is only digits and padding (one digit at least).</summary>
    internal static int FindBadCharacter(ReadOnlySpan<byte> field, AsciiAlignment alignment)
    {
        int i = 0;
        if (alignment == AsciiAlignment.Left)
        {
            // Digits, then spaces only.
            while (i < field.Length && (uint)(field[i] - '0') <= 9)
            {
                i++;
            }

            if (i == 0)
            {
                return 0;
            }

            for (; i < field.Length; i++)
            {
                if (field[i] != (byte)' ')
                {
                    return i;
                }
            }

            return -1;
        }

        if (alignment == AsciiAlignment.Right)
        {
            while (i < field.Length && field[i] == (byte)' ')
            {
                i++;
            }

            if (i == field.Length)
            {
                return 0;
            }
        }

        for (; i < field.Length; i++)
        {
            if ((uint)(field[i] - '0') > 9)
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>Writes <paramref name="value"/> (at most <c>10^field.Length − 1</c>) across the whole field with the layout's padding.</summary>
    internal static void Write(ulong value, Span<byte> field, AsciiAlignment alignment)
    {
        int digits = CountDigits(value);
        int digitsStart = alignment == AsciiAlignment.Left ? 0 : field.Length - digits;
        if (alignment == AsciiAlignment.Left)
        {
            field.Slice(digits).Fill((byte)' ');
        }
        else
        {
            field.Slice(0, digitsStart).Fill(alignment == AsciiAlignment.ZeroPadded ? (byte)'0' : (byte)' ');
        }

        for (int i = digitsStart + digits - 1; i > digitsStart; i--)
        {
            ulong quotient = value / 10;
            field[i] = (byte)('0' + (int)(value - (quotient * 10)));
            value = quotient;
        }

        field[digitsStart] = (byte)('0' + (int)value);
    }

    /// <summary>The largest value a field of <paramref name="width"/> digits holds: 10^width − 1 (width 1 to 19).</summary>
    internal static ulong MaxValue(int width)
    {
        ulong max = 1;
        for (int i = 0; i < width; i++)
        {
            max *= 10;
        }

        return max - 1;
    }

    private static int CountDigits(ulong value)
    {
        int digits = 1;
        while (value >= 10)
        {
            value /= 10;
            digits++;
        }

        return digits;
    }
}
