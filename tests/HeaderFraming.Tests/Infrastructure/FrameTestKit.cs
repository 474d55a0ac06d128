using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using HeaderFraming.Codecs;

namespace HeaderFraming.Tests.Infrastructure;

/// <summary>Encoding and decoding helpers shared by the tests.</summary>
public static class FrameTestKit
{
    public static byte[] Ascii(string text) => Encoding.ASCII.GetBytes(text);

    /// <summary>Encodes frames with the library's <see cref="FrameWriter"/> into a byte array (with <paramref name="header"/> as
    /// every frame's header bytes when given).</summary>
    public static byte[] Encode(IFrameCodec codec, IEnumerable<byte[]> payloads, byte[]? header = null)
    {
        var stream = new MemoryStream();
        PipeWriter pipe = PipeWriter.Create(stream, new StreamPipeWriterOptions(leaveOpen: true));
        var writer = new FrameWriter(pipe, codec);
        foreach (byte[] payload in payloads)
        {
            if (header != null)
            {
                writer.Write(header, payload);
            }
            else
            {
                WritePayload(writer, payload);
            }
        }

        writer.FlushAsync().AsTask().GetAwaiter().GetResult();
        writer.Complete();
        return stream.ToArray();
    }

    /// <summary>Writes <paramref name="wire"/> into a pipe in pieces of the sizes in <paramref name="chunks"/> (in turn; all at
    /// once when there are none), flushing each, then completes the pipe: a peer whose bytes arrive split anywhere.</summary>
    public static async Task WriteInChunksAsync(PipeWriter writer, byte[] wire, int[] chunks)
    {
        int offset = 0;
        int i = 0;
        while (offset < wire.Length)
        {
            int size = chunks.Length == 0 ? wire.Length : Math.Max(1, chunks[i++ % chunks.Length]);
            size = Math.Min(size, wire.Length - offset);
            await writer.WriteAsync(wire.AsMemory(offset, size));
            offset += size;
        }

        writer.Complete();
    }

    /// <summary>Writes one frame, with zeros for the header bytes a codec needs from the caller (a type byte, a prefix).</summary>
    public static void WritePayload(FrameWriter writer, ReadOnlySpan<byte> payload)
    {
        if (writer.RequiresHeader)
        {
            writer.Write(new byte[writer.CallerHeaderLength], payload);
        }
        else
        {
            writer.Write(payload);
        }
    }

    /// <summary>Decodes every frame of <paramref name="reader"/> until the end of the stream, copying the payloads.</summary>
    public static async Task<List<byte[]>> DecodeAllAsync(PipeReader reader, IFrameCodec codec, FrameReaderOptions? options = null)
    {
        var frameReader = new FrameReader(reader, codec, options);
        var payloads = new List<byte[]>();
        while (true)
        {
            FrameReadResult result = await frameReader.ReadFrameAsync();
            if (result.IsCompleted)
            {
                return payloads;
            }

            Assert.True(result.HasFrame);
            payloads.Add(result.Frame.Payload.ToArray());
        }
    }

    /// <summary>Decodes with the batching pattern: contiguous frames as spans, the rest through ReadFrameAsync.</summary>
    public static async Task<(List<byte[]> Payloads, int AsSpans)> DecodeAllWithSpansAsync(PipeReader reader, IFrameCodec codec, FrameReaderOptions? options = null)
    {
        var frameReader = new FrameReader(reader, codec, options);
        var payloads = new List<byte[]>();
        int asSpans = 0;
        while (true)
        {
            asSpans += Drain(frameReader, payloads);
            FrameReadResult result = await frameReader.ReadFrameAsync();
            if (result.IsCompleted)
            {
                return (payloads, asSpans);
            }

            payloads.Add(result.Frame.Payload.ToArray());
        }

        static int Drain(FrameReader frameReader, List<byte[]> payloads)
        {
            int count = 0;
            while (frameReader.TryReadFrame(out ReadOnlySpan<byte> header, out ReadOnlySpan<byte> payload))
            {
                Assert.Equal(frameReader.Codec.GetHeaderLength(payload.Length), header.Length);
                payloads.Add(payload.ToArray());
                count++;
            }

            return count;
        }
    }

    public static List<byte[]> DecodeAll(ReadOnlySequence<byte> data, IFrameCodec codec, IEnumerable<int>? chunks = null, FrameReaderOptions? options = null)
        => DecodeAllAsync(new ChunkedPipeReader(data, chunks ?? Array.Empty<int>()), codec, options).GetAwaiter().GetResult();

    /// <summary>The seed tutorial's header, computed independently of the library: <c>f"{n:&lt;10}"</c>.</summary>
    public static byte[] PythonHeader(long length, int width = 10) => Ascii(length.ToString(System.Globalization.CultureInfo.InvariantCulture).PadRight(width));

    public static IFrameCodec[] SampleCodecs() =>
    [
        AsciiDecimalCodec.Default,
        new AsciiDecimalCodec(6, AsciiAlignment.Right),
        new AsciiDecimalCodec(8, AsciiAlignment.ZeroPadded),
        BinaryLengthCodec.UInt32BigEndian,
        BinaryLengthCodec.UInt16BigEndian,
        BinaryLengthCodec.UInt32LittleEndian,
        new BinaryLengthCodec(4, Endianness.BigEndian, fieldOffset: 8, headerLength: 24),
        new BinaryLengthCodec(4, Endianness.BigEndian, fieldOffset: 1, headerLength: 5, lengthAdjustment: -4),
        new BinaryLengthCodec(3, Endianness.LittleEndian, fieldOffset: 2, headerLength: 7, lengthIncludesHeader: true),
        VarintCodec.Instance,
    ];
}
