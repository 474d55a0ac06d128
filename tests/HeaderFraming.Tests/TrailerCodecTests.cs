using System.Buffers;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using HeaderFraming.Codecs;
using HeaderFraming.Protocols;
using HeaderFraming.Tests.Infrastructure;

namespace HeaderFraming.Tests;

public class TrailerCodecTests
{
    private const int Cases = 1000;

    [Fact]
    public void AmqpPresetIsASevenByteHeaderWithTheFrameEndTrailerAndKeepsItsLayout()
    {
        IFrameCodec codec = Amqp.Codec;
        var trailer = Assert.IsAssignableFrom<IFrameTrailerCodec>(codec);
        Assert.Equal(new byte[] { 0xCE }, trailer.Trailer.ToArray());
        var layout = Assert.IsAssignableFrom<ILengthFieldCodec>(codec).LengthField;
        Assert.Equal((4, Endianness.BigEndian, 3, 7, 0L), (layout.FieldWidth, layout.Endianness, layout.FieldOffset, layout.HeaderLength, layout.Adjustment));
        Assert.Same(((ILengthFieldCodec)Amqp.Codec.Inner).LengthField, layout);
        Assert.False(codec is IHeaderPrefixCodec);
        Assert.True(codec.IsFixedWidth);
        Assert.Equal(7, codec.MaxHeaderLength);
        Assert.Equal((long)uint.MaxValue, codec.MaxPayloadLength);
    }

    [Fact]
    public void AnAmqpMethodFrameDecodesToItsPayloadLengthWithoutTheTrailer()
    {
        // Connection.Tune-Ok-like: type 1, channel 0, size 12, 12 bytes, frame-end.
        byte[] wire = [0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, .. new byte[12], 0xCE];
        CodecAssert.Decodes(Amqp.Codec, wire, 7, 12);
        byte[] heartbeat = [0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xCE];
        CodecAssert.Decodes(Amqp.Codec, heartbeat, 7, 0);
        Assert.Equal(8UL, Amqp.FrameType.Read(heartbeat));
        Assert.Equal(0UL, Amqp.Channel.Read(heartbeat));
    }

    [Fact]
    public void WritingAnAmqpHeaderFillsTheSizeAndLeavesTypeAndChannel()
    {
        byte[] header = new byte[7];
        Amqp.FrameType.Write(header, Amqp.MethodFrame);
        Amqp.Channel.Write(header, 0x0102);
        Assert.Equal(7, Amqp.Codec.WriteHeader(0x0A0B0C, header));
        Assert.Equal(new byte[] { 0x01, 0x01, 0x02, 0x00, 0x0A, 0x0B, 0x0C }, header);
        Assert.Equal(8, Amqp.ProtocolHeader.Length);
        Assert.Equal("AMQP\0\0\u0009\u0001"u8.ToArray(), Amqp.ProtocolHeader.ToArray());
    }

    [Fact]
    public void APrefixCodecKeepsItsPrefixLengthThroughTheWrapper()
    {
        TrailerCodec codec = Mqtt.Codec.WithTrailer(0x0D, 0x0A);
        Assert.Equal(1, Assert.IsAssignableFrom<IHeaderPrefixCodec>(codec).PrefixLength);
        Assert.False(codec is ILengthFieldCodec);
        Assert.Equal(new byte[] { 0x0D, 0x0A }, codec.Trailer.ToArray());
        Assert.Contains("then the trailer 0D 0A", codec.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void APlainCodecIsNeitherALayoutNorAPrefixCodec()
    {
        TrailerCodec codec = VarintCodec.Instance.WithTrailer(0xFF);
        Assert.False(codec is ILengthFieldCodec);
        Assert.False(codec is IHeaderPrefixCodec);
        Assert.Same(VarintCodec.Instance, codec.Inner);
    }

    [Fact]
    public void TheTrailerIsCopiedSoTheCallersArrayCannotChangeIt()
    {
        byte[] trailer = [0xCE];
        TrailerCodec codec = BinaryLengthCodec.UInt16BigEndian.WithTrailer(trailer);
        trailer[0] = 0x00;
        Assert.Equal(0xCE, codec.Trailer.Span[0]);
    }

    [Fact]
    public void EmptyTooLongOrNestedTrailersAndANullCodecAreRefused()
    {
        Assert.Throws<ArgumentException>(() => BinaryLengthCodec.UInt16BigEndian.WithTrailer());
        Assert.Throws<ArgumentException>(() => BinaryLengthCodec.UInt16BigEndian.WithTrailer(new byte[TrailerCodec.MaxTrailerLength + 1]));
        var nested = Assert.Throws<ArgumentException>(() => Amqp.Codec.WithTrailer(0x00));
        Assert.Contains("already ends every frame with a 1-byte trailer", nested.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentNullException>(() => TrailerCodec.Create(null!, [0xCE]));
        Assert.Throws<ArgumentNullException>(() => BinaryLengthCodec.UInt16BigEndian.WithTrailer(null!));
    }

    [Property(MaxTest = Cases)]
    public Property TheWrapperDecodesWritesAndReportsExactlyAsItsInnerCodecWhateverTheBytes() =>
        Prop.ForAll(WrapperCases().ToArbitrary(), c =>
        {
            (IFrameCodec inner, byte[] trailer, byte[] bytes, long length) = c;
            TrailerCodec codec = TrailerCodec.Create(inner, trailer);
            Assert.Equal(trailer, codec.Trailer.ToArray());
            Assert.Equal((inner.MaxHeaderLength, inner.IsFixedWidth, inner.MaxPayloadLength), (codec.MaxHeaderLength, codec.IsFixedWidth, codec.MaxPayloadLength));

            // Capabilities forwarded exactly when the inner codec has them.
            Assert.Equal(inner is ILengthFieldCodec, codec is ILengthFieldCodec);
            if (inner is ILengthFieldCodec lengthField)
            {
                Assert.Same(lengthField.LengthField, ((ILengthFieldCodec)codec).LengthField);
            }

            Assert.Equal(inner is IHeaderPrefixCodec, codec is IHeaderPrefixCodec);
            if (inner is IHeaderPrefixCodec prefix)
            {
                Assert.Equal(prefix.PrefixLength, ((IHeaderPrefixCodec)codec).PrefixLength);
            }

            OperationStatus expected = inner.DecodeHeader(bytes, out int h0, out long p0);
            Assert.Equal((expected, h0, p0), (codec.DecodeHeader(bytes, out int h1, out long p1), h1, p1));
            if (expected == OperationStatus.InvalidData)
            {
                Assert.Equal(inner.CreateHeaderException(bytes).Problem, codec.CreateHeaderException(bytes).Problem);
            }

            Assert.Equal(inner.GetHeaderLength(length), codec.GetHeaderLength(length));
            byte[] a = (byte[])bytes.Clone();
            Array.Resize(ref a, Math.Max(a.Length, inner.MaxHeaderLength));
            byte[] b = (byte[])a.Clone();
            Assert.Equal(inner.WriteHeader(length, a), codec.WriteHeader(length, b));
            Assert.Equal(a, b);
        });

    private static Gen<(IFrameCodec Inner, byte[] Trailer, byte[] Bytes, long Length)> WrapperCases() =>
        from inner in Gen.Frequency(
            (4, Generators.Codec().Select(c => c.Codec)),
            (1, Gen.Choose(0, 3).SelectMany(p => Gen.Choose(1, 9).Select(m => (IFrameCodec)new PrefixedVarintCodec(p, m)))))
        from trailerLength in Gen.Choose(1, 4)
        from seed in Gen.Choose(0, int.MaxValue)
        from byteCount in Gen.Choose(0, 30)
        from lengthSeed in Gen.Choose(0, int.MaxValue)
        let minimum = inner is ILengthFieldCodec l ? Math.Max(0, l.LengthField.Adjustment) : 0
        let length = minimum + (long)(new Random(lengthSeed).NextDouble() * (Math.Min(inner.MaxPayloadLength, 1L << 40) - minimum))
        select (inner, Generators.Bytes(trailerLength, seed), Generators.Bytes(byteCount, seed ^ 0x3C3C), length);
}
