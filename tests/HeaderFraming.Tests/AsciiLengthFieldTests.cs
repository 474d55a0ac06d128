using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using HeaderFraming.Codecs;
using HeaderFraming.Testing;
using HeaderFraming.Tests.Infrastructure;

namespace HeaderFraming.Tests;

/// <summary><see cref="LengthFieldLayout.AsciiDecimal(int, AsciiAlignment, int, int, long)"/>: the layout's own decoding (the
/// drivers' inline path, and <see cref="AsciiDecimalCodec"/>'s) against a reference parser, for any field content.</summary>
public class AsciiLengthFieldTests
{
    private const int Cases = 1000;
    private const int PayloadBytes = 64;
    private const long MaxFrameLength = 1000;

    /// <summary>A width and alignment (the seed's 10 left-aligned often, the SWAR path) and a field of that width: either
    /// well-formed (digits and padding in place, sometimes with one byte replaced) or bytes drawn at random.</summary>
    public sealed record FieldCase(int Width, AsciiAlignment Alignment, int Offset, int Extra, byte[] Field)
    {
        public override string ToString() => $"{Width} {Alignment} at {Offset}+{Extra}: \"{Encoding.Latin1.GetString(Field).Replace("\0", "\\0", StringComparison.Ordinal)}\"";
    }

    private static Arbitrary<FieldCase> Fields()
    {
        Gen<byte> anyByte = Gen.Frequency(
            (6, Gen.Choose('0', '9').Select(c => (byte)c)),
            (3, Gen.Constant((byte)' ')),
            (2, Gen.Elements((byte)'+', (byte)'-', (byte)'x', (byte)'/', (byte)':', (byte)0, (byte)0x80, (byte)0xB0, (byte)0x10)));
        Gen<FieldCase> cases =
            from width in Gen.Frequency((3, Gen.Constant(AsciiDecimalCodec.DefaultWidth)), (3, Gen.Choose(1, AsciiDecimalCodec.MaxWidth)))
            from alignment in Gen.Elements(AsciiAlignment.Left, AsciiAlignment.Right, AsciiAlignment.ZeroPadded)
            from offset in Gen.Frequency((3, Gen.Constant(0)), (1, Gen.Choose(1, 3)))
            from extra in Gen.Frequency((3, Gen.Constant(0)), (1, Gen.Choose(1, 3)))
            from digits in Gen.Choose(0, width)
            from digitBytes in Gen.ArrayOf(Gen.Choose('0', '9').Select(c => (byte)c), digits)
            from mutate in Gen.Frequency((3, Gen.Constant(-1)), (1, Gen.Choose(0, width - 1)))
            from replacement in anyByte
            from random in Gen.ArrayOf(anyByte, width)
            from wellFormed in Gen.Elements(true, true, false)
            select new FieldCase(width, alignment, offset, extra,
                wellFormed ? Mutate(Pad(digitBytes, width, alignment), mutate, replacement) : random);
        return cases.ToArbitrary();
    }

    [Property(MaxTest = Cases)]
    public Property TheLayoutDecodesAnyFieldAsTheReferenceParserDoes() =>
        Prop.ForAll(Fields(), c =>
        {
            long? expected = Reference(c.Field, c.Alignment);
            var codec = new AsciiDecimalCodec(c.Width, c.Alignment);
            OperationStatus status = codec.DecodeHeader(c.Field, out int headerLength, out long payloadLength);
            if (expected is long value)
            {
                Assert.Equal(OperationStatus.Done, status);
                Assert.Equal(c.Width, headerLength);
                Assert.Equal(value, payloadLength);
            }
            else
            {
                Assert.Equal(OperationStatus.InvalidData, status);
            }
        });

    /// <summary>The reader's inline path on a user's codec (the field at an offset of a larger header): a frame exactly when
    /// the reference says so, decoded without calling the codec; every other field reaches the codec, which reports it.</summary>
    [Property(MaxTest = Cases)]
    public Property TheReaderDecodesAUsersAsciiLayoutInlineAsTheReferenceParserDoes() =>
        Prop.ForAll(Fields(), c =>
        {
            long? expected = Reference(c.Field, c.Alignment);
            var codec = new UserAsciiLengthCodec(c.Width, c.Alignment, c.Offset, c.Offset + c.Width + c.Extra, adjustment: 0);
            byte[] wire = new byte[c.Offset + c.Width + c.Extra + PayloadBytes];
            c.Field.CopyTo(wire, c.Offset);
            var reader = new FrameReader(PipeReader.Create(SegmentedSequence.Create(wire)), codec, new FrameReaderOptions { MaxFrameLength = MaxFrameLength });
            Exception? error = Record.Exception(() =>
            {
                FrameReadResult result = reader.ReadFrameAsync().AsTask().GetAwaiter().GetResult();
                Assert.True(result.HasFrame);
                Assert.Equal(expected, result.Frame.PayloadLength);
            });

            if (expected is >= 0 and <= PayloadBytes)
            {
                Assert.Null(error);
                Assert.Equal(0, codec.DecodeCalls);
            }
            else if (expected is null)
            {
                Assert.IsType<FrameFormatException>(error);
            }
            else if (expected > MaxFrameLength)
            {
                Assert.IsType<FrameTooLargeException>(error);
            }
            else
            {
                Assert.IsType<FrameTruncatedException>(error);
            }
        });

    /// <summary>The field the drivers write inline (and <see cref="AsciiDecimalCodec.WriteHeader"/>) is Python's formatting of
    /// the value, for every value the field holds, and leaves the header's other bytes alone.</summary>
    [Property(MaxTest = Cases)]
    public Property TheLayoutWritesEveryValueItsFieldHoldsAsPythonFormatsIt()
    {
        Gen<(int Width, AsciiAlignment Alignment, ulong Value)> cases =
            from width in Gen.Choose(1, AsciiDecimalCodec.MaxWidth)
            from alignment in Gen.Elements(AsciiAlignment.Left, AsciiAlignment.Right, AsciiAlignment.ZeroPadded)
            from digits in Gen.Choose(1, width)
            from values in Gen.ArrayOf(Gen.Choose(0, 9), digits)
            from widest in Gen.Frequency((6, Gen.Constant(false)), (1, Gen.Constant(true)))
            select (width, alignment, widest ? LengthFieldLayout.AsciiDecimal(width, alignment).MaxFieldValue : values.Aggregate(0UL, (v, d) => (v * 10) + (ulong)d));
        return Prop.ForAll(cases.ToArbitrary(), c =>
        {
            string digits = c.Value.ToString(System.Globalization.CultureInfo.InvariantCulture);
            string python = c.Alignment switch
            {
                AsciiAlignment.Left => digits.PadRight(c.Width),
                AsciiAlignment.Right => digits.PadLeft(c.Width),
                _ => digits.PadLeft(c.Width, '0'),
            };
            Assert.Equal(c.Width, python.Length);

            LengthFieldLayout layout = LengthFieldLayout.AsciiDecimal(c.Width, c.Alignment, fieldOffset: 1, headerLength: c.Width + 2, adjustment: 0);
            byte[] header = Enumerable.Repeat((byte)'#', c.Width + 2).ToArray();
            layout.WriteField(c.Value, header);
            Assert.Equal("#" + python + "#", Encoding.Latin1.GetString(header));

            var codec = new AsciiDecimalCodec(c.Width, c.Alignment);
            if (c.Value <= long.MaxValue)
            {
                byte[] written = new byte[c.Width];
                Assert.Equal(c.Width, codec.WriteHeader((long)c.Value, written));
                Assert.Equal(python, Encoding.Latin1.GetString(written));
            }
        });
    }

    [Theory]
    [InlineData(0, AsciiAlignment.Left, 0, 0, "fieldWidth")]
    [InlineData(20, AsciiAlignment.Left, 0, 20, "fieldWidth")]
    [InlineData(4, (AsciiAlignment)7, 0, 4, "alignment")]
    [InlineData(4, AsciiAlignment.ZeroPadded, 3, 6, "headerLength")]
    [InlineData(4, AsciiAlignment.Right, -1, 4, "fieldOffset")]
    public void AnImpossibleAsciiLayoutIsRefusedNamingTheArgument(int width, AsciiAlignment alignment, int offset, int headerLength, string argument)
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => LengthFieldLayout.AsciiDecimal(width, alignment, offset, headerLength, 0));
        Assert.Equal(argument, ex.ParamName);
    }

    [Fact]
    public void AnAsciiLayoutDescribesItselfAndItsRange()
    {
        LengthFieldLayout seed = AsciiDecimalCodec.Default.LengthField;
        Assert.Equal("10-byte ASCII decimal (left-aligned) length at offset 0 of a 10-byte header", seed.ToString());
        Assert.Equal(AsciiAlignment.Left, seed.AsciiAlignment);
        Assert.Equal(Endianness.BigEndian, seed.Endianness);
        Assert.Equal(9_999_999_999, seed.MaxPayloadLength);
        Assert.Null(BinaryLengthCodec.UInt32BigEndian.LengthField.AsciiAlignment);

        LengthFieldLayout typed = LengthFieldLayout.AsciiDecimal(4, AsciiAlignment.ZeroPadded, 2, 6, -1);
        Assert.Equal("4-byte ASCII decimal (zero-padded) length at offset 2 of a 6-byte header, adjusted by -1", typed.ToString());
        Assert.Equal(9_998, typed.MaxPayloadLength);
        Assert.Equal(long.MaxValue, LengthFieldLayout.AsciiDecimal(19, AsciiAlignment.Right).MaxPayloadLength);
    }

    /// <summary>The reference: the layout's regular expression, then the value if it fits a 63-bit length.</summary>
    private static long? Reference(byte[] field, AsciiAlignment alignment)
    {
        string text = Encoding.Latin1.GetString(field);
        string pattern = alignment switch
        {
            AsciiAlignment.Left => "^[0-9]+ *$",
            AsciiAlignment.Right => "^ *[0-9]+$",
            _ => "^[0-9]+$",
        };
        if (!System.Text.RegularExpressions.Regex.IsMatch(text, pattern))
        {
            return null;
        }

        return ulong.Parse(text.Trim(' '), System.Globalization.CultureInfo.InvariantCulture) is ulong value && value <= long.MaxValue ? (long)value : null;
    }

    private static byte[] Pad(byte[] digits, int width, AsciiAlignment alignment)
    {
        byte[] field = new byte[width];
        int start = alignment == AsciiAlignment.Left ? 0 : width - digits.Length;
        field.AsSpan().Fill(alignment == AsciiAlignment.ZeroPadded ? (byte)'0' : (byte)' ');
        digits.CopyTo(field, start);
        return field;
    }

    private static byte[] Mutate(byte[] field, int index, byte replacement)
    {
        if (index >= 0)
        {
            field[index] = replacement;
        }

        return field;
    }
}
