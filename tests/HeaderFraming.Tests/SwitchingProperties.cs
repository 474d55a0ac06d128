using System.Buffers;
using System.IO.Pipelines;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using HeaderFraming.Tests.Infrastructure;

namespace HeaderFraming.Tests;

/// <summary>
/// Switching framing mid-stream loses, duplicates and misreads nothing: random sequences of frames in codec A, raw chunks
/// and frames in codec B (one read with B, or B for all later reads), written by a <see cref="FrameWriter"/> that switches
/// codecs, fed through a real <see cref="Pipe"/> in random chunks by a concurrent writer, decode to exactly what was sent.
/// </summary>
public class SwitchingProperties
{
    private const int Cases = 500;

    /// <summary>One step of a conversation: a frame in codec A or B, or raw bytes. <see cref="Override"/>: the reader reads a
    /// B frame with a one-read codec instead of switching.</summary>
    public sealed record Step(int Kind, byte[] Header, byte[] Bytes, bool Override)
    {
        public override string ToString() => $"{(Kind == 0 ? "A" : Kind == 1 ? "raw" : Override ? "B(once)" : "B")}:{Bytes.Length}";
    }

    public sealed record SwitchCase(CodecCase A, CodecCase B, Step[] Steps, int[] Chunks)
    {
        public override string ToString() => $"A={A}; B={B}; steps [{string.Join(",", (IEnumerable<Step>)Steps)}]; chunks [{string.Join(",", Chunks)}]";
    }

    public static Gen<SwitchCase> Cases_()
    {
        Gen<CodecCase> codec = Gen.Frequency((6, Generators.Codec()), (1, Gen.Constant(new CodecCase(SwitchingCodecs.Amqp, 0, 70_000))), (1, Gen.Constant(new CodecCase(SwitchingCodecs.ControlByteVarint, 0, 70_000))));
        Gen<Step> StepOf(CodecCase a, CodecCase b) =>
            from kind in Gen.Elements(0, 1, 2)
            let c = kind == 0 ? a : b
            from payload in Generators.Payload(c)
            from raw in Gen.Choose(0, 300)
            from seed in Gen.Choose(0, int.MaxValue)
            from once in Gen.Elements(false, true)
            select kind == 1
                ? new Step(1, [], Generators.Bytes(raw, seed), false)
                : new Step(kind, HeaderBytes(c.Codec, payload.Length, seed), payload, once);
        return
            from a in codec
            from b in codec
            from steps in StepOf(a, b).ArrayOf().Select(s => s.Take(20).ToArray())
            from chunks in Gen.Frequency((2, Gen.Choose(1, 16)), (2, Gen.Choose(1, 3000)), (1, Gen.Choose(1, 100_000))).ArrayOf()
            select new SwitchCase(a, b, steps, chunks);
    }

    [Property(MaxTest = Cases)]
    public Property FramesInTwoCodecsAndRawChunksDecodeExactlyWhateverTheSplit() =>
        Prop.ForAll(Cases_().ToArbitrary(), c =>
        {
            byte[] wire = Encode(c);
            var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 64 * 1024, resumeWriterThreshold: 32 * 1024, minimumSegmentSize: 512));
            Task feeder = Task.Run(() => FrameTestKit.WriteInChunksAsync(pipe.Writer, wire, c.Chunks));

            DecodeAsync(pipe.Reader, c).WaitAsync(TimeSpan.FromSeconds(30)).GetAwaiter().GetResult();
            feeder.WaitAsync(TimeSpan.FromSeconds(30)).GetAwaiter().GetResult();
        });

    private static byte[] Encode(SwitchCase c)
    {
        var stream = new MemoryStream();
        PipeWriter pipe = PipeWriter.Create(stream, new StreamPipeWriterOptions(leaveOpen: true));
        var writer = new FrameWriter(pipe, c.A.Codec);
        foreach (Step step in c.Steps)
        {
            if (step.Kind == 1)
            {
                writer.WriteRaw(step.Bytes);
                continue;
            }

            writer.Codec = step.Kind == 0 ? c.A.Codec : c.B.Codec;
            if (step.Header.Length > 0)
            {
                writer.Write(step.Header, step.Bytes);
            }
            else
            {
                writer.Write(step.Bytes);
            }
        }

        writer.FlushAsync().AsTask().GetAwaiter().GetResult();
        writer.Complete();
        return stream.ToArray();
    }

    private static async Task DecodeAsync(PipeReader pipe, SwitchCase c)
    {
        var reader = new FrameReader(pipe, c.A.Codec, new FrameReaderOptions { MaxFrameLength = 100_000 });
        for (int i = 0; i < c.Steps.Length; i++)
        {
            Step step = c.Steps[i];
            if (step.Kind == 1)
            {
                ReadOnlySequence<byte> raw = await reader.ReadExactlyAsync(step.Bytes.Length);
                Assert.True(raw.ToArray().AsSpan().SequenceEqual(step.Bytes), $"step {i}: the raw bytes differ");
                continue;
            }

            FrameReadResult result;
            if (step.Kind == 2 && step.Override)
            {
                reader.Codec = c.A.Codec;
                result = await reader.ReadFrameAsync(c.B.Codec);
                Assert.Same(c.A.Codec, reader.Codec);
            }
            else
            {
                reader.Codec = step.Kind == 0 ? c.A.Codec : c.B.Codec;
                result = await reader.ReadFrameAsync();
            }

            Assert.True(result.HasFrame, $"step {i}: no frame");
            Assert.True(result.Frame.Payload.ToArray().AsSpan().SequenceEqual(step.Bytes), $"step {i}: the payload differs");
        }

        FrameReadResult end = await reader.ReadFrameAsync();
        Assert.True(end.IsCompleted, "bytes left after the last step");
    }

    /// <summary>The header bytes a codec needs from the caller (random), or none.</summary>
    private static byte[] HeaderBytes(IFrameCodec codec, int payloadLength, int seed)
    {
        bool needs = FrameWriter.NeedsCallerHeader(codec, out int length);
        return needs ? Generators.Bytes(length, seed) : [];
    }
}
