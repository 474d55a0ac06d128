using FsCheck;
using FsCheck.Fluent;
using HeaderFraming.Codecs;

namespace HeaderFraming.Tests.Infrastructure;

/// <summary>A codec with the payload lengths it can describe, for property tests.</summary>
public sealed record CodecCase(IFrameCodec Codec, long MinPayload, long MaxPayload)
{
    public override string ToString() => Codec.ToString() ?? Codec.GetType().Name;
}

/// <summary>Frames, split points and chunk sizes for property tests.</summary>
public sealed record FramingCase(CodecCase Codec, byte[][] Payloads, int[] Cuts, int[] Chunks)
{
    public override string ToString()
        => $"{Codec}; payloads [{string.Join(",", Payloads.Select(p => p.Length))}]; cuts [{string.Join(",", Cuts)}]; chunks [{string.Join(",", Chunks)}]";
}

/// <summary>FsCheck generators of random valid codec configurations, payload lists and splits.</summary>
public static class Generators
{
    private const int PayloadCap = 70_000;

    public static Gen<CodecCase> Codec()
    {
        Gen<CodecCase> ascii =
            from width in Gen.Choose(1, AsciiDecimalCodec.MaxWidth)
            from alignment in Gen.Elements(AsciiAlignment.Left, AsciiAlignment.Right, AsciiAlignment.ZeroPadded)
            let codec = new AsciiDecimalCodec(width, alignment)
            select new CodecCase(codec, 0, Math.Min(codec.MaxPayloadLength, PayloadCap));

        Gen<CodecCase> binary =
            from width in Gen.Choose(1, 8)
            from endianness in Gen.Elements(Endianness.BigEndian, Endianness.LittleEndian)
            from offset in Gen.Choose(0, 6)
            from extra in Gen.Choose(0, 6)
            from includesHeader in Gen.Elements(false, true)
            from adjustment in Gen.Choose(-20, 20)
            let headerLength = offset + width + extra
            let maxField = width == 8 ? long.MaxValue : (long)((1UL << (8 * width)) - 1)
            let delta = adjustment - (includesHeader ? headerLength : 0)
            where maxField + delta >= Math.Max(delta, 0)
            let codec = new BinaryLengthCodec(width, endianness, offset, headerLength, adjustment, includesHeader)
            select new CodecCase(codec, Math.Max(delta, 0), Math.Min(codec.MaxPayloadLength, PayloadCap));

        // A user's codec with ASCII digits inside a larger header: the layout decoded inline against the codec's own reference.
        Gen<CodecCase> userAscii =
            from width in Gen.Choose(1, AsciiDecimalCodec.MaxWidth)
            from alignment in Gen.Elements(AsciiAlignment.Left, AsciiAlignment.Right, AsciiAlignment.ZeroPadded)
            from offset in Gen.Choose(0, 4)
            from extra in Gen.Choose(0, 4)
            from adjustment in Gen.Choose(-20, 20)
            let maxField = width >= 19 ? long.MaxValue : (long)Math.Pow(10, width) - 1
            where maxField + adjustment >= Math.Max(adjustment, 0)
            let codec = new UserAsciiLengthCodec(width, alignment, offset, offset + width + extra, adjustment)
            select new CodecCase(codec, Math.Max(adjustment, 0), Math.Min(codec.MaxPayloadLength, PayloadCap));

        Gen<CodecCase> varint = Gen.Constant(new CodecCase(VarintCodec.Instance, 0, PayloadCap));

        return Gen.Frequency((3, ascii), (4, binary), (2, userAscii), (2, varint));
    }

    public static Gen<byte[]> Payload(CodecCase codec)
    {
        Gen<int> small = Gen.Choose(0, 40);
        Gen<int> medium = Gen.Choose(0, 5000);
        Gen<int> large = Gen.Choose(60_000, PayloadCap);
        return
            from raw in Gen.Frequency((6, small), (3, medium), (1, large))
            let length = (int)Math.Clamp(raw, codec.MinPayload, codec.MaxPayload)
            from seed in Gen.Choose(0, int.MaxValue)
            select Bytes(length, seed);
    }

    public static Gen<FramingCase> Framing() =>
        from codec in Codec()
        from payloads in Payload(codec).ArrayOf().Select(a => a.Take(25).ToArray())
        let total = payloads.Sum(p => p.Length + codec.Codec.GetHeaderLength(p.Length))
        from cuts in Gen.Choose(0, Math.Max(total, 1)).ArrayOf()
        from chunks in Gen.Frequency((2, Gen.Choose(1, 16)), (2, Gen.Choose(1, 3000)), (1, Gen.Choose(1, 100_000))).ArrayOf()
        select new FramingCase(codec, payloads, cuts, chunks);

    public static Arbitrary<FramingCase> FramingArbitrary() => Framing().ToArbitrary();

    public static byte[] Bytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }
}
