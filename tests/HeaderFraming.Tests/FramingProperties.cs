using System.Buffers;
using System.IO.Pipelines;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using HeaderFraming.Testing;
using HeaderFraming.Tests.Infrastructure;
using static HeaderFraming.Tests.Infrastructure.FrameTestKit;

namespace HeaderFraming.Tests;

/// <summary>decode(split(encode(frames))) == frames, for random codecs, payloads and splits.</summary>
public class FramingProperties
{
    // CI runs every property at least 1,000 times.
    private const int Cases = 1000;

    [Property(MaxTest = Cases)]
    public Property EncodedFramesDecodeIdenticallyWhateverTheSegmentSplit() =>
        Prop.ForAll(Generators.FramingArbitrary(), c =>
        {
            byte[] wire = Encode(c.Codec.Codec, c.Payloads);
            ReadOnlySequence<byte> split = SegmentedSequence.Split(wire, c.Cuts);
            List<byte[]> decoded = DecodeAll(split, c.Codec.Codec, c.Chunks);
            AssertSameFrames(c.Payloads, decoded);
        });

    [Property(MaxTest = Cases)]
    public Property TheSpanBatchingPatternDecodesTheSameFramesWhateverTheSplit() =>
        Prop.ForAll(Generators.FramingArbitrary(), c =>
        {
            byte[] wire = Encode(c.Codec.Codec, c.Payloads);
            ReadOnlySequence<byte> split = SegmentedSequence.Split(wire, c.Cuts);
            (List<byte[]> decoded, _) = DecodeAllWithSpansAsync(new ChunkedPipeReader(split, c.Chunks), c.Codec.Codec, new FrameReaderOptions { MaxFrameLength = 100_000 })
                .GetAwaiter().GetResult();
            AssertSameFrames(c.Payloads, decoded);
        });

    [Property(MaxTest = Cases)]
    public Property FramesWrittenToARealPipeInRandomChunksByAConcurrentWriterDecodeInOrder() =>
        Prop.ForAll(Generators.FramingArbitrary(), c =>
        {
            byte[] wire = Encode(c.Codec.Codec, c.Payloads);
            var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 64 * 1024, resumeWriterThreshold: 32 * 1024, minimumSegmentSize: 512));
            Task writer = Task.Run(() => WriteInChunksAsync(pipe.Writer, wire, c.Chunks));
            List<byte[]> decoded = DecodeAllAsync(pipe.Reader, c.Codec.Codec, new FrameReaderOptions { MaxFrameLength = 100_000 })
                .WaitAsync(TimeSpan.FromSeconds(30)).GetAwaiter().GetResult();
            writer.WaitAsync(TimeSpan.FromSeconds(30)).GetAwaiter().GetResult();
            AssertSameFrames(c.Payloads, decoded);
        });

    [Property(MaxTest = Cases)]
    public Property BackPatchedFramesDecodeLikeWrittenFrames() =>
        Prop.ForAll(Generators.FramingArbitrary(), c =>
        {
            var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 0));
            var writer = new FrameWriter(pipe.Writer, c.Codec.Codec);
            int step = c.Chunks.Length > 0 ? Math.Max(1, c.Chunks[0]) : 100;
            foreach (byte[] payload in c.Payloads)
            {
                IBufferWriter<byte> body = writer.BeginFrame(writer.RequiresHeader ? new byte[writer.CallerHeaderLength] : default);
                for (int offset = 0; offset < payload.Length; offset += step)
                {
                    ReadOnlySpan<byte> part = payload.AsSpan(offset, Math.Min(step, payload.Length - offset));
                    part.CopyTo(body.GetSpan(part.Length));
                    body.Advance(part.Length);
                }

                writer.EndFrame();
            }

            writer.FlushAsync().AsTask().GetAwaiter().GetResult();
            writer.Complete();
            List<byte[]> decoded = DecodeAllAsync(pipe.Reader, c.Codec.Codec, new FrameReaderOptions { MaxFrameLength = 100_000 }).GetAwaiter().GetResult();
            AssertSameFrames(c.Payloads, decoded);
        });

    [Property(MaxTest = Cases)]
    public Property RandomGarbageYieldsFramesOrATypedErrorNeverACrashOrAHang()
    {
        Gen<(CodecCase, byte[], int[])> gen =
            from codec in Generators.Codec()
            from length in Gen.Choose(0, 300)
            from seed in Gen.Choose(0, int.MaxValue)
            from chunks in Gen.Choose(1, 40).ArrayOf()
            select (codec, Generators.Bytes(length, seed), chunks);
        return Prop.ForAll(gen.ToArbitrary(), t =>
        {
            (CodecCase codec, byte[] garbage, int[] chunks) = t;
            var pipeReader = new ChunkedPipeReader(SegmentedSequence.Split(garbage, chunks), chunks);
            try
            {
                DecodeAllAsync(pipeReader, codec.Codec, new FrameReaderOptions { MaxFrameLength = 1000 }).GetAwaiter().GetResult();
            }
            catch (FrameException ex)
            {
                Assert.InRange(ex.StreamOffset, 0, garbage.Length);
                Assert.False(string.IsNullOrEmpty(ex.Message));
            }

            Assert.True(pipeReader.ReadCount <= garbage.Length + 2, "the reader spun");
        });
    }

    [Property(MaxTest = Cases)]
    public Property ATruncatedStreamDeliversEveryWholeFrameThenATruncationError() =>
        Prop.ForAll(Generators.FramingArbitrary(), c =>
        {
            byte[] wire = Encode(c.Codec.Codec, c.Payloads);
            if (wire.Length == 0)
            {
                return;
            }

            int cut = c.Cuts.Length > 0 ? c.Cuts[0] % wire.Length : wire.Length / 2;
            var reader = new FrameReader(new ChunkedPipeReader(SegmentedSequence.Split(wire[..cut], c.Cuts), c.Chunks), c.Codec.Codec,
                new FrameReaderOptions { MaxFrameLength = 100_000 });
            int whole = 0;
            long offset = 0;
            foreach (byte[] payload in c.Payloads)
            {
                long next = offset + c.Codec.Codec.GetHeaderLength(payload.Length) + payload.Length;
                if (next > cut)
                {
                    break;
                }

                offset = next;
                whole++;
            }

            for (int i = 0; i < whole; i++)
            {
                Assert.Equal(c.Payloads[i], reader.ReadFrameAsync().AsTask().GetAwaiter().GetResult().Frame.Payload.ToArray());
            }

            if (offset == cut)
            {
                Assert.True(reader.ReadFrameAsync().AsTask().GetAwaiter().GetResult().IsCompleted);
            }
            else
            {
                var ex = Assert.Throws<FrameTruncatedException>(() => reader.ReadFrameAsync().AsTask().GetAwaiter().GetResult());
                Assert.Equal(cut - offset, ex.ReceivedBytes);
                Assert.Equal(offset, ex.StreamOffset);
            }
        });

    private static void AssertSameFrames(byte[][] expected, List<byte[]> actual)
    {
        Assert.Equal(expected.Length, actual.Count);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(expected[i].AsSpan().SequenceEqual(actual[i]), $"frame {i} differs");
        }
    }
}
