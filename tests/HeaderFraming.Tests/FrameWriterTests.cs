using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using HeaderFraming.Codecs;
using HeaderFraming.Testing;
using static HeaderFraming.Tests.Infrastructure.FrameTestKit;

namespace HeaderFraming.Tests;

public class FrameWriterTests
{
    [Fact]
    public void WritesTheSeedWireFormatByteForByte()
    {
        byte[] wire = Encode(AsciiDecimalCodec.Default, [Encoding.UTF8.GetBytes("Welcome to the server!")]);
        Assert.Equal([.. PythonHeader(22), .. Encoding.UTF8.GetBytes("Welcome to the server!")], wire);
    }

    [Fact]
    public async Task APayloadTooLongForTheHeaderIsRefusedAndNothingIsWritten()
    {
        var pipe = new Pipe();
        var writer = new FrameWriter(pipe.Writer, BinaryLengthCodec.UInt16BigEndian);
        writer.Write(new byte[3]);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => writer.Write(new byte[65536]));
        Assert.Contains("65,536", ex.Message, StringComparison.Ordinal);
        await writer.FlushAsync();
        pipe.Writer.Complete();
        ReadResult read = await pipe.Reader.ReadAsync();
        Assert.Equal(5, read.Buffer.Length);
    }

    [Fact]
    public async Task AHeaderTemplateKeepsItsNonLengthBytes()
    {
        var codec = new BinaryLengthCodec(4, Endianness.BigEndian, fieldOffset: 8, headerLength: 24);
        var template = new byte[24];
        template[0] = 0x80;
        template[1] = 0x01;
        template[23] = 0xEE;
        var stream = new MemoryStream();
        PipeWriter pipe = PipeWriter.Create(stream);
        var writer = new FrameWriter(pipe, codec);
        writer.Write(template, [1, 2, 3]);
        await pipe.FlushAsync();
        byte[] wire = stream.ToArray();
        Assert.Equal(27, wire.Length);
        Assert.Equal((0x80, 0x01, 0xEE), (wire[0], wire[1], wire[23]));
        Assert.Equal(new byte[] { 0, 0, 0, 3 }, wire[8..12]);
        Assert.Throws<ArgumentException>(() => writer.Write(new byte[5], [1]));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(100)]
    [InlineData(4000)]
    [InlineData(5000)]
    [InlineData(200_000)]
    public async Task BackPatchedFramesDecodeForEveryCodec(int size)
    {
        foreach (IFrameCodec codec in SampleCodecs().Where(c => c.MaxPayloadLength >= size))
        {
            var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 0));
            var writer = new FrameWriter(pipe.Writer, codec);
            byte[] payload = Enumerable.Range(0, size).Select(i => (byte)(i * 7)).ToArray();
            writer.Write(Ascii("before"));
            IBufferWriter<byte> body = writer.BeginFrame();
            int written = 0;
            while (written < size)
            {
                Span<byte> span = body.GetSpan(1);
                int n = Math.Min(Math.Min(span.Length, 777), size - written);
                payload.AsSpan(written, n).CopyTo(span);
                body.Advance(n);
                written += n;
            }

            Assert.Equal(size, writer.EndFrame());
            writer.Write(Ascii("after"));
            await writer.FlushAsync();
            writer.Complete();
            List<byte[]> frames = await DecodeAllAsync(pipe.Reader, codec);
            Assert.Equal(3, frames.Count);
            Assert.Equal(payload, frames[1]);
            Assert.Equal("after", Encoding.ASCII.GetString(frames[2]));
        }
    }

    [Fact]
    public async Task AnAbortedSmallFrameWritesNothing()
    {
        var pipe = new Pipe();
        var writer = new FrameWriter(pipe.Writer, AsciiDecimalCodec.Default);
        IBufferWriter<byte> body = writer.BeginFrame();
        body.Write("partial"u8);
        writer.AbortFrame();
        writer.Write(Ascii("ok"));
        await writer.FlushAsync();
        writer.Complete();
        List<byte[]> frames = await DecodeAllAsync(pipe.Reader, AsciiDecimalCodec.Default);
        Assert.Equal("ok", Encoding.ASCII.GetString(Assert.Single(frames)));
    }

    [Fact]
    public void WritingWhileAFrameIsOpenIsRefused()
    {
        var writer = new FrameWriter(new Pipe().Writer, AsciiDecimalCodec.Default);
        writer.BeginFrame();
        Assert.Throws<InvalidOperationException>(() => writer.Write(Ascii("x")));
        Assert.Throws<InvalidOperationException>(() => writer.BeginFrame());
        writer.EndFrame();
        Assert.Throws<InvalidOperationException>(() => writer.EndFrame());
    }

    [Fact]
    public async Task ABackPatchedPayloadOverflowingATwoByteFieldFaultsTheWriter()
    {
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 0));
        var writer = new FrameWriter(pipe.Writer, BinaryLengthCodec.UInt16BigEndian);
        IBufferWriter<byte> body = writer.BeginFrame();
        Assert.Throws<ArgumentOutOfRangeException>(() =>
        {
            for (int i = 0; i < 100; i++)
            {
                body.GetSpan(1000);
                body.Advance(1000);
            }
        });
        Assert.Throws<InvalidOperationException>(() => writer.Write([1]));
        var ex = await Assert.ThrowsAsync<InvalidOperationException>(async () => await pipe.Reader.ReadAsync());
        Assert.Contains("abandoned", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AMultiSegmentPayloadIsWrittenWhole()
    {
        var pipe = new Pipe();
        var writer = new FrameWriter(pipe.Writer, BinaryLengthCodec.UInt32LittleEndian);
        writer.Write(SegmentedSequence.Create([1, 2], [], [3, 4, 5]));
        await writer.FlushAsync();
        writer.Complete();
        List<byte[]> frames = await DecodeAllAsync(pipe.Reader, BinaryLengthCodec.UInt32LittleEndian);
        Assert.Equal(new byte[] { 1, 2, 3, 4, 5 }, Assert.Single(frames));
    }
}
