using System.Buffers;
using System.IO.Pipelines;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using HeaderFraming.Codecs;
using HeaderFraming.Protocols;
using HeaderFraming.Tests.Infrastructure;

namespace HeaderFraming.Tests;

/// <summary>The protocol presets through the real FrameWriter and FrameReader: header fields, prefixes and trailers written by
/// the writer come back from the reader, whatever the chunking.</summary>
public class ProtocolCodecsEndToEndTests
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(30);

    public sealed record Case(string Name, IFrameCodec Codec, HeaderField Field, ulong MaxFieldValue, (ulong Field, byte[] Payload)[] Frames, int[] Chunks)
    {
        public override string ToString() => $"{Name}; payloads [{string.Join(",", Frames.Select(f => f.Payload.Length))}]; chunks [{string.Join(",", Chunks)}]";
    }

    [Property(MaxTest = 300)]
    public Property EveryPresetRoundTripsItsFramesAndHeaderFieldThroughTheWriterAndTheReader() =>
        Prop.ForAll(Cases().ToArbitrary(), c => RoundTripAsync(c).WaitAsync(s_timeout).GetAwaiter().GetResult());

    [Fact]
    public async Task AnAmqpFrameWithoutItsFrameEndFaultsTheReader()
    {
        byte[] wire = [0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xCD];
        var reader = new FrameReader(PipeReader.Create(new System.Buffers.ReadOnlySequence<byte>(wire)), Amqp.Codec);
        var ex = await Assert.ThrowsAsync<FrameFormatException>(async () => await reader.ReadFrameAsync());
        Assert.Contains("CE", ex.Message, StringComparison.Ordinal);
    }

    private static async Task RoundTripAsync(Case c)
    {
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 0));
        var writer = new FrameWriter(pipe.Writer, c.Codec);
        int prefix = c.Codec is IHeaderPrefixCodec p ? p.PrefixLength : -1;
        foreach ((ulong field, byte[] payload) in c.Frames)
        {
            byte[] header = new byte[prefix >= 0 ? prefix : c.Codec.GetHeaderLength(payload.Length)];
            c.Field.Write(header, field);
            writer.Write(header, payload);
        }

        await writer.FlushAsync();
        writer.Complete();
        byte[] wire = (await pipe.Reader.ReadAsync()).Buffer.ToArray();

        var reader = new FrameReader(new ChunkedPipeReader(new System.Buffers.ReadOnlySequence<byte>(wire), c.Chunks), c.Codec,
            new FrameReaderOptions { MaxFrameLength = 100_000 });
        foreach ((ulong field, byte[] payload) in c.Frames)
        {
            FrameReadResult result = await reader.ReadFrameAsync();
            Assert.True(result.HasFrame);
            Assert.Equal(field, result.Frame.Read(c.Field));
            Assert.Equal(payload, result.Frame.Payload.ToArray());
        }

        Assert.True((await reader.ReadFrameAsync()).IsCompleted);
        Assert.Equal(wire.Length, reader.Position);
    }

    private static Gen<Case> Cases() =>
        from preset in Gen.Elements(
            ("MQTT", (IFrameCodec)Mqtt.Codec, Mqtt.PacketType),
            ("MQTT + trailer", Mqtt.Codec.WithTrailer(0xC0, 0xDE), Mqtt.Flags),
            ("AMQP 0-9-1", Amqp.Codec, Amqp.Channel),
            ("HTTP/2", Http2.Codec, Http2.StreamId),
            ("MySQL", MySql.Codec, MySql.SequenceId))
        from frames in (from field in Gen.Choose(0, int.MaxValue)
                        from length in Gen.Frequency((4, Gen.Choose(0, 127)), (2, Gen.Choose(128, 20_000)), (1, Gen.Choose(20_000, 70_000)))
                        from seed in Gen.Choose(0, int.MaxValue)
                        select ((ulong)field & preset.Item3.MaxValue, Generators.Bytes(length, seed))).ArrayOf().Select(a => a.Take(15).ToArray())
        from chunks in Gen.Frequency((1, Gen.Choose(1, 3)), (2, Gen.Choose(1, 5000))).ArrayOf()
        select new Case(preset.Item1, preset.Item2, preset.Item3, preset.Item3.MaxValue, frames, chunks);
}
