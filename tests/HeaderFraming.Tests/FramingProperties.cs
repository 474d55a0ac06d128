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
            // Through a reader that refuses an examined position moving back, as System.IO.Pipelines 8 does.
            List<byte[]> decoded = DecodeAllAsync(new StrictExaminedPipeReader(pipe.Reader), c.Codec.Codec, new FrameReaderOptions { MaxFrameLength = 100_000 })
                .WaitAsync(TimeSpan.FromSeconds(30)).GetAwaiter().GetResult();
            writer.WaitAsync(TimeSpan.FromSeconds(30)).GetAwaiter().GetResult();
            AssertSameFrames(c.Payloads, decoded);
        });

    /// <summary>A connection's TryReadFrame takes the bytes the pipe received since the last read: mixed in any order with
    /// waits, cancelled waits, peeks and bytes arriving in any chunks, every frame comes out once, in order, no read waits
    /// for a byte that is already there, and no examined position moves back (System.IO.Pipelines 8 refuses that).</summary>
    [Property(MaxTest = Cases)]
    public Property TryReadReceivedFrameMixedWithWaitsDecodesEveryFrameInOrderWhateverTheChunking() =>
        Prop.ForAll(Generators.FramingArbitrary(), Gen.Choose(0, 5).ArrayOf().ToArbitrary(), (c, ops) =>
        {
            byte[] wire = Encode(c.Codec.Codec, c.Payloads);
            // Inline schedulers: a flush runs the waiting read's continuation before it returns, so the steps below are one
            // deterministic interleaving of writes and reads.
            var pipe = new Pipe(new PipeOptions(readerScheduler: PipeScheduler.Inline, writerScheduler: PipeScheduler.Inline, pauseWriterThreshold: 0, minimumSegmentSize: 512, useSynchronizationContext: false));
            var reader = new FrameReader(new StrictExaminedPipeReader(pipe.Reader), c.Codec.Codec, new FrameReaderOptions { MaxFrameLength = 100_000 });
            int written = 0;
            int chunk = 0;
            bool completed = false;
            bool WriteNext()
            {
                if (completed)
                {
                    return false;
                }

                int size = Math.Min(c.Chunks.Length == 0 ? wire.Length : Math.Max(1, c.Chunks[chunk++ % c.Chunks.Length]), wire.Length - written);
                pipe.Writer.Write(wire.AsSpan(written, size));
                written += size;
                pipe.Writer.FlushAsync().AsTask().GetAwaiter().GetResult();
                if (written == wire.Length)
                {
                    completed = true;
                    pipe.Writer.Complete();
                }

                return true;
            }

            // Where each frame ends on the wire: a read may wait only while the next frame is not all written.
            long[] ends = new long[c.Payloads.Length];
            for (int i = 0, end = 0; i < ends.Length; i++)
            {
                end += c.Codec.Codec.GetHeaderLength(c.Payloads[i].Length) + c.Payloads[i].Length;
                ends[i] = end;
            }

            // 0: TryReadReceivedFrame as a Frame; 1: as spans; 2: ReadFrameAsync; 3: the next chunk arrives; 4: a read that
            // waits is cancelled (CancelPendingRead); 5: the bytes after the last frame are peeked, at once.
            var decoded = new List<byte[]>();
            int idleSteps = 0; // cancels and peeks in a row: at most one round of the ops, so that the loop ends
            for (int step = 0; ; step++)
            {
                int op = ops.Length == 0 ? 2 : ops[step % ops.Length];
                if (op == 3 && WriteNext())
                {
                    continue;
                }

                if (op == 4)
                {
                    ValueTask<FrameReadResult> waiting = reader.ReadFrameAsync();
                    if (!waiting.IsCompleted)
                    {
                        reader.CancelPendingRead();
                        Assert.True(waiting.IsCompleted && waiting.Result.IsCanceled, "a cancelled wait did not end as cancelled");
                        if (++idleSteps <= ops.Length)
                        {
                            continue;
                        }
                    }
                    else
                    {
                        FrameReadResult got = waiting.Result;
                        if (got.IsCompleted)
                        {
                            break;
                        }

                        decoded.Add(got.Frame.Payload.ToArray());
                        continue;
                    }
                }

                if (op == 5 && written > reader.Position)
                {
                    int held = (int)Math.Min(written - reader.Position, 64);
                    int start = (int)reader.Position;
                    ValueTask<ReadOnlySequence<byte>> peek = reader.PeekAsync(held);
                    Assert.True(peek.IsCompleted, $"a peek of {held} bytes that were all written waited (at {start:N0} of {written:N0})");
                    Assert.True(wire.AsSpan(start, held).SequenceEqual(peek.Result.ToArray()), "a peek returned other bytes");
                    if (++idleSteps <= ops.Length)
                    {
                        continue;
                    }
                }

                idleSteps = 0;

                if (op == 0 && reader.TryReadReceivedFrame(out Frame frame))
                {
                    decoded.Add(frame.Payload.ToArray());
                    continue;
                }

                if (op == 1 && NextBySpans(reader) is byte[] payload)
                {
                    decoded.Add(payload);
                    continue;
                }

                // Every step makes progress: a chunk arrives, or a read waits for one.
                if (op != 2 && WriteNext())
                {
                    continue;
                }

                ValueTask<FrameReadResult> read = reader.ReadFrameAsync();
                while (!read.IsCompleted)
                {
                    Assert.True(decoded.Count == ends.Length || written < ends[decoded.Count], $"a read waited though frame {decoded.Count} was all written ({written} of {wire.Length} bytes)");
                    if (!WriteNext())
                    {
                        break;
                    }
                }

                Assert.True(read.IsCompleted, $"a read waited with every byte written, after {decoded.Count} of {c.Payloads.Length} frames");
                FrameReadResult result = read.Result;
                if (result.IsCompleted)
                {
                    break;
                }

                decoded.Add(result.Frame.Payload.ToArray());
            }

            AssertSameFrames(c.Payloads, decoded);

            static byte[]? NextBySpans(FrameReader reader)
                => reader.TryReadReceivedFrame(out ReadOnlySpan<byte> _, out ReadOnlySpan<byte> payload) ? payload.ToArray() : null;
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
