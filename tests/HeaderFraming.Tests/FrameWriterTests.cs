using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Text;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using HeaderFraming.Codecs;
using HeaderFraming.Testing;
using HeaderFraming.Tests.Infrastructure;
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
        await writer.FlushAsync();
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
            WritePayload(writer, Ascii("before"));
            IBufferWriter<byte> body = writer.BeginFrame(writer.RequiresHeader ? new byte[writer.CallerHeaderLength] : default);
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
            WritePayload(writer, Ascii("after"));
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

    // CI runs every property at least 1,000 times.
    private const int Cases = 1000;

    [Property(MaxTest = Cases)]
    public Property FramesWrittenByAnyMixOfWritesAndBackPatchedFramesDecodeExactly() =>
        Prop.ForAll(WriterCases().ToArbitrary(), c =>
        {
            IFrameCodec codec = c.Codec.Codec;
            var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 0, minimumSegmentSize: c.SegmentSize, useSynchronizationContext: false));
            var writer = new FrameWriter(pipe.Writer, codec);
            var expected = new List<(byte[]? Template, byte[] Payload)>();
            foreach (WriteStep step in c.Steps)
            {
                if (step.Kind == WriteKind.Flush)
                {
                    Assert.False(writer.FlushAsync().AsTask().GetAwaiter().GetResult().IsCompleted);
                    continue;
                }

                byte[]? template = step.Kind == WriteKind.WriteWithHeader || (step.Kind == WriteKind.BeginEnd && step.Chunk % 2 == 0 && codec.IsFixedWidth)
                    ? Generators.Bytes(codec.GetHeaderLength(step.Payload.Length), step.Chunk)
                    : null;
                Write(writer, step, template);
                expected.Add((template, step.Payload));
            }

            writer.FlushAsync().AsTask().GetAwaiter().GetResult();
            writer.Complete();
            List<(byte[] Header, byte[] Payload)> frames = ReadFramesAsync(pipe.Reader, codec).GetAwaiter().GetResult();
            Assert.Equal(expected.Count, frames.Count);
            for (int i = 0; i < expected.Count; i++)
            {
                Assert.True(expected[i].Payload.AsSpan().SequenceEqual(frames[i].Payload), $"frame {i} differs");
                if (codec is ILengthFieldCodec { LengthField: var layout })
                {
                    // The bytes besides the length field are the caller's, or zeros.
                    byte[] others = expected[i].Template ?? new byte[layout.HeaderLength];
                    for (int b = 0; b < layout.HeaderLength; b++)
                    {
                        if (b < layout.FieldOffset || b >= layout.FieldOffset + layout.FieldWidth)
                        {
                            Assert.True(others[b] == frames[i].Header[b], $"frame {i}: header byte {b} is {frames[i].Header[b]}, expected {others[b]}");
                        }
                    }
                }
            }

            if (codec is UserLengthFieldCodec user)
            {
                Assert.Equal(0, user.WriteHeaderCalls);
            }
        });

    [Fact]
    public async Task AUsersOwnLengthFieldCodecIsWrittenInlineWithoutACallPerFrame()
    {
        // A type byte, then a 3-byte little-endian length that counts itself: nothing like the built-in codecs.
        var codec = new UserLengthFieldCodec(3, Endianness.LittleEndian, fieldOffset: 1, headerLength: 4, adjustment: -3);
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 0));
        var writer = new FrameWriter(pipe.Writer, codec);
        for (int i = 0; i < 100; i++)
        {
            writer.Write([(byte)'T', 0, 0, 0], Ascii($"frame {i}"));
            IBufferWriter<byte> body = writer.BeginFrame([(byte)'P', 0, 0, 0]);
            body.Write(Ascii($"patched {i}"));
            writer.EndFrame();
        }

        await writer.FlushAsync();
        writer.Complete();
        Assert.Equal(0, codec.WriteHeaderCalls);

        List<(byte[] Header, byte[] Payload)> frames = await ReadFramesAsync(pipe.Reader, codec);
        Assert.Equal(200, frames.Count);
        Assert.Equal(new byte[] { (byte)'T', 10, 0, 0 }, frames[0].Header); // "frame 0" is 7 bytes, + 3
        Assert.Equal("frame 99", Encoding.ASCII.GetString(frames[198].Payload));
        Assert.Equal(new byte[] { (byte)'P', 13, 0, 0 }, frames[199].Header);
        Assert.Equal("patched 99", Encoding.ASCII.GetString(frames[199].Payload));
    }

    [Fact]
    public async Task ALengthTheLayoutCannotDescribeIsRefusedWithTheCodecsOwnMessageAndNothingIsWritten()
    {
        // The field's value is the payload length minus 2: a payload shorter than 2 bytes has no header. A 1-byte field
        // describes at most 257 bytes.
        var codec = new UserLengthFieldCodec(1, Endianness.BigEndian, fieldOffset: 0, headerLength: 1, adjustment: 2);
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 0));
        var writer = new FrameWriter(pipe.Writer, codec);
        writer.Write(Ascii("ok"));
        var tooShort = Assert.Throws<ArgumentOutOfRangeException>(() => writer.Write(Ascii("x")));
        Assert.StartsWith(UserLengthFieldCodec.Refusal, tooShort.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => writer.Write(new byte[258]));
        Assert.Throws<ArgumentOutOfRangeException>(() => writer.Write(SegmentedSequence.Create(new byte[200], new byte[58])));

        // Back-patched: EndFrame refuses the length and abandons the frame; the writer goes on.
        IBufferWriter<byte> body = writer.BeginFrame();
        body.Write(Ascii("y"));
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => writer.EndFrame());
        Assert.StartsWith(UserLengthFieldCodec.Refusal, ex.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidOperationException>(() => writer.EndFrame());
        writer.Write(Ascii("after"));
        await writer.FlushAsync();
        writer.Complete();
        Assert.Equal(4, codec.WriteHeaderCalls); // the four refusals, on the cold path

        List<(byte[] Header, byte[] Payload)> frames = await ReadFramesAsync(pipe.Reader, codec);
        Assert.Equal(new[] { "ok", "after" }, frames.Select(f => Encoding.ASCII.GetString(f.Payload)));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task HeaderBytesBesidesTheLengthAreZeroedEvenInDirtyMemory(bool template)
    {
        // A codec without a layout whose WriteHeader writes only its length: nothing tells the writer which bytes are the
        // caller's, so a header not supplied is zeroed (with a layout, such a write is refused: see the next test).
        var dirty = new DirtyPipeWriter();
        var writer = new FrameWriter(dirty, new LengthOnlyCodec());
        writer.Write([1, 2, 3]);
        IBufferWriter<byte> body = writer.BeginFrame(template ? new byte[4] : default);
        body.Write(new byte[] { 4, 5 });
        writer.EndFrame();
        await writer.FlushAsync();
        Assert.Equal(new byte[] { 0, 0, 3, 0, 1, 2, 3, 0, 0, 2, 0, 4, 5 }, dirty.Written);
    }

    [Fact]
    public async Task AHeaderWithBytesBesidesTheLengthIsRefusedWithoutThemAndNothingIsWritten()
    {
        // A type byte at 0, a 2-byte length at 1, a flags byte at 3: a payload alone would go out as type 0, flags 0.
        var codec = new BinaryLengthCodec(2, Endianness.BigEndian, fieldOffset: 1, headerLength: 4);
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 0));
        var writer = new FrameWriter(pipe.Writer, codec);
        var refused = Assert.Throws<InvalidOperationException>(() => writer.Write([1, 2, 3]));
        Assert.Contains("carries 2 bytes besides the 2-byte length field", refused.Message);
        Assert.Throws<InvalidOperationException>(() => writer.Write(SegmentedSequence.Split(new byte[] { 1, 2, 3 }, [1])));
        Assert.Throws<InvalidOperationException>(() => writer.BeginFrame());
        Assert.Equal(0, writer.BytesWritten);

        writer.Write([7, 0, 0, 9], [1, 2, 3]);
        await writer.FlushAsync();
        writer.Complete();
        ReadResult read = await pipe.Reader.ReadAsync();
        Assert.Equal(new byte[] { 7, 0, 3, 9, 1, 2, 3 }, read.Buffer.ToArray());
    }

    [Fact]
    public async Task FramesReachThePipeWhenTheFrameWriterFlushesOrCompletes()
    {
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 0));
        var writer = new FrameWriter(pipe.Writer, BinaryLengthCodec.UInt32BigEndian);
        writer.Write(Ascii("one"));
        Assert.Equal(7, writer.BytesWritten);

        // Buffered in the frame writer's memory: the pipe has nothing to flush yet.
        await pipe.Writer.FlushAsync();
        Assert.False(pipe.Reader.TryRead(out _));

        await writer.FlushAsync();
        Assert.True(pipe.Reader.TryRead(out ReadResult first));
        Assert.Equal(7, first.Buffer.Length);
        pipe.Reader.AdvanceTo(first.Buffer.End);

        writer.Write(Ascii("two"));
        writer.Complete();
        List<byte[]> rest = await DecodeAllAsync(pipe.Reader, BinaryLengthCodec.UInt32BigEndian);
        Assert.Equal("two", Encoding.ASCII.GetString(Assert.Single(rest)));
        Assert.Equal(14, writer.BytesWritten);
    }

    [Fact]
    public void AdvancingPastTheMemoryHandedOutIsRefused()
    {
        var writer = new FrameWriter(new Pipe().Writer, BinaryLengthCodec.UInt32BigEndian);
        IBufferWriter<byte> body = writer.BeginFrame();
        int length = body.GetSpan(1).Length;
        Assert.Throws<ArgumentOutOfRangeException>(() => body.Advance(length + 1));
        body.Advance(length);
        Assert.Equal(length, writer.EndFrame());
    }

    private static void Write(FrameWriter writer, WriteStep step, byte[]? template)
    {
        byte[] payload = step.Payload;
        switch (step.Kind)
        {
            case WriteKind.Write:
                WritePayload(writer, payload);
                break;
            case WriteKind.WriteWithHeader:
                writer.Write(template, payload);
                break;
            case WriteKind.WriteSequence:
                ReadOnlySequence<byte> sequence = SegmentedSequence.Split(payload, Enumerable.Range(1, payload.Length / step.Chunk).Select(k => k * step.Chunk));
                if (writer.RequiresHeader)
                {
                    writer.Write(new byte[writer.CallerHeaderLength], sequence);
                }
                else
                {
                    writer.Write(sequence);
                }

                break;
            case WriteKind.BeginEnd:
                IBufferWriter<byte> body = writer.BeginFrame(template ?? (writer.RequiresHeader ? new byte[writer.CallerHeaderLength] : null));
                for (int offset = 0; offset < payload.Length;)
                {
                    int count = Math.Min(step.Chunk, payload.Length - offset);
                    Span<byte> span = offset % 2 == 0 ? body.GetSpan(count) : body.GetMemory(count).Span;
                    count = Math.Min(count, span.Length);
                    payload.AsSpan(offset, count).CopyTo(span);
                    body.Advance(count);
                    offset += count;
                }

                Assert.Equal(payload.Length, writer.EndFrame());
                break;
        }
    }

    /// <summary>Reads every frame to the end of the stream, copying its header and payload.</summary>
    private static async Task<List<(byte[] Header, byte[] Payload)>> ReadFramesAsync(PipeReader pipe, IFrameCodec codec)
    {
        var reader = new FrameReader(pipe, codec, new FrameReaderOptions { MaxFrameLength = 1 << 20 });
        var frames = new List<(byte[], byte[])>();
        while (true)
        {
            FrameReadResult result = await reader.ReadFrameAsync();
            if (result.IsCompleted)
            {
                return frames;
            }

            frames.Add((result.Frame.Header.ToArray(), result.Frame.Payload.ToArray()));
        }
    }

    private static Gen<WriterCase> WriterCases()
    {
        Gen<CodecCase> user =
            from width in Gen.Choose(1, 8)
            from endianness in Gen.Elements(Endianness.BigEndian, Endianness.LittleEndian)
            from offset in Gen.Choose(0, 5)
            from extra in Gen.Choose(0, 5)
            from adjustment in Gen.Choose(-30, 30)
            let codec = new UserLengthFieldCodec(width, endianness, offset, offset + width + extra, adjustment)
            select new CodecCase(codec, Math.Max(adjustment, 0), Math.Min(codec.MaxPayloadLength, 70_000));
        Gen<CodecCase> codecs = Gen.Frequency((3, Generators.Codec()), (2, user));
        Gen<WriteKind> kinds = Gen.Frequency(
            (4, Gen.Constant(WriteKind.Write)), (1, Gen.Constant(WriteKind.WriteWithHeader)), (1, Gen.Constant(WriteKind.WriteSequence)),
            (3, Gen.Constant(WriteKind.BeginEnd)), (1, Gen.Constant(WriteKind.Flush)));
        return
            from codec in codecs
            from segmentSize in Gen.Elements(32, 512, 4096)
            from steps in (
                from kind in kinds
                from payload in Generators.Payload(codec)
                from chunk in Gen.Frequency((2, Gen.Choose(1, 64)), (1, Gen.Choose(1, 20_000)))
                select new WriteStep(kind, payload, chunk)).ArrayOf().Select(a => a.Take(30).ToArray())
            select new WriterCase(codec, steps, segmentSize);
    }

    public enum WriteKind
    {
        Write,
        WriteWithHeader,
        WriteSequence,
        BeginEnd,
        Flush,
    }

    public sealed record WriteStep(WriteKind Kind, byte[] Payload, int Chunk)
    {
        public override string ToString() => $"{Kind}({Payload.Length}, chunk {Chunk})";
    }

    public sealed record WriterCase(CodecCase Codec, WriteStep[] Steps, int SegmentSize)
    {
        public override string ToString() => $"{Codec}; segments of {SegmentSize}; {string.Join(", ", Steps.Select(s => s.ToString()))}";
    }

    /// <summary>
    /// A user's own length-field codec, written from the <see cref="LengthFieldLayout"/> alone (not a
    /// <see cref="BinaryLengthCodec"/>): the field is the payload length minus the adjustment. Counts its
    /// <see cref="WriteHeader"/> calls, which the writer should make only to refuse a length.
    /// </summary>
    private sealed class UserLengthFieldCodec(int fieldWidth, Endianness endianness, int fieldOffset, int headerLength, long adjustment) : ILengthFieldCodec
    {
        public const string Refusal = "The user codec cannot describe";

        private int _writeHeaderCalls;

        public LengthFieldLayout LengthField { get; } = new LengthFieldLayout(fieldWidth, endianness, fieldOffset, headerLength, adjustment);

        public int WriteHeaderCalls => Volatile.Read(ref _writeHeaderCalls);

        public int MaxHeaderLength => headerLength;

        public bool IsFixedWidth => true;

        public long MaxPayloadLength => LengthField.MaxPayloadLength;

        public int GetHeaderLength(long payloadLength) => headerLength;

        public OperationStatus DecodeHeader(ReadOnlySpan<byte> source, out int headerLength, out long payloadLength)
        {
            headerLength = 0;
            payloadLength = 0;
            if (source.Length < LengthField.HeaderLength)
            {
                return OperationStatus.NeedMoreData;
            }

            ulong value = 0;
            for (int i = 0; i < fieldWidth; i++)
            {
                int b = endianness == Endianness.BigEndian ? i : fieldWidth - 1 - i;
                value = (value << 8) | source[fieldOffset + b];
            }

            decimal length = value + (decimal)adjustment;
            if (length < 0 || length > long.MaxValue)
            {
                return OperationStatus.InvalidData;
            }

            headerLength = LengthField.HeaderLength;
            payloadLength = (long)length;
            return OperationStatus.Done;
        }

        public FrameFormatException CreateHeaderException(ReadOnlySpan<byte> source)
            => new("the user codec's length field gives no payload length", source[..Math.Min(source.Length, LengthField.HeaderLength)]);

        public int WriteHeader(long payloadLength, Span<byte> destination)
        {
            Interlocked.Increment(ref _writeHeaderCalls);
            if (payloadLength < Math.Max(0, adjustment) || payloadLength > LengthField.MaxPayloadLength)
            {
                throw new ArgumentOutOfRangeException(nameof(payloadLength), payloadLength, $"{Refusal} a payload of {payloadLength} bytes.");
            }

            ulong value = (ulong)(payloadLength - adjustment);
            for (int i = fieldWidth - 1; i >= 0; i--)
            {
                int b = endianness == Endianness.BigEndian ? i : fieldWidth - 1 - i;
                destination[fieldOffset + b] = (byte)value;
                value >>= 8;
            }

            return LengthField.HeaderLength;
        }

        public override string ToString() => $"user codec: {LengthField}";
    }

    /// <summary>A fixed 4-byte header without a declared layout: a 2-byte big-endian length at offset 1, and WriteHeader
    /// writes nothing else (as IFrameCodec allows: the other bytes are the caller's).</summary>
    private sealed class LengthOnlyCodec : IFrameCodec
    {
        public int MaxHeaderLength => 4;

        public bool IsFixedWidth => true;

        public long MaxPayloadLength => ushort.MaxValue;

        public int GetHeaderLength(long payloadLength) => 4;

        public OperationStatus DecodeHeader(ReadOnlySpan<byte> source, out int headerLength, out long payloadLength)
        {
            (headerLength, payloadLength) = source.Length < 4 ? (0, 0L) : (4, BinaryPrimitives.ReadUInt16BigEndian(source[1..]));
            return headerLength == 0 ? OperationStatus.NeedMoreData : OperationStatus.Done;
        }

        public FrameFormatException CreateHeaderException(ReadOnlySpan<byte> source) => new("never invalid", source);

        public int WriteHeader(long payloadLength, Span<byte> destination)
        {
            BinaryPrimitives.WriteUInt16BigEndian(destination[1..], checked((ushort)payloadLength));
            return 4;
        }
    }

    /// <summary>A pipe writer whose memory is full of 0xEE, as reused pool memory may be.</summary>
    private sealed class DirtyPipeWriter : PipeWriter
    {
        private readonly byte[] _buffer = Enumerable.Repeat((byte)0xEE, 1 << 16).ToArray();
        private int _written;

        public byte[] Written => _buffer[.._written];

        public override void Advance(int bytes) => _written += bytes;

        public override Memory<byte> GetMemory(int sizeHint = 0) => _buffer.AsMemory(_written);

        public override Span<byte> GetSpan(int sizeHint = 0) => _buffer.AsSpan(_written);

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) => new(default(FlushResult));

        public override void CancelPendingFlush()
        {
        }

        public override void Complete(Exception? exception = null)
        {
        }
    }
}
