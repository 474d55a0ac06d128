using System;
using System.Buffers;
using System.Collections.Generic;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using System.Text;
using System.Threading.Tasks;
using HeaderFraming;
using HeaderFraming.Codecs;

// Frames messages through a Pipe with every codec and every write path, reads them back with every read path, and
// exits 1 on the first mismatch. Run as a native AOT binary by .ci/run.

var codecs = new (string Name, IFrameCodec Codec, int HeaderLength)[]
{
    ("ascii-left", AsciiDecimalCodec.Default, 0),
    ("ascii-right", new AsciiDecimalCodec(8, AsciiAlignment.Right), 0),
    ("ascii-zero-padded", new AsciiDecimalCodec(12, AsciiAlignment.ZeroPadded), 0),
    ("u32-be", BinaryLengthCodec.UInt32BigEndian, 0),
    ("u16-be", BinaryLengthCodec.UInt16BigEndian, 0),
    ("u32-le", BinaryLengthCodec.UInt32LittleEndian, 0),
    ("memcached", new BinaryLengthCodec(4, Endianness.BigEndian, fieldOffset: 8, headerLength: 24), 24),
    ("postgres", new BinaryLengthCodec(4, Endianness.BigEndian, fieldOffset: 1, headerLength: 5, lengthAdjustment: -4), 5),
    ("varint", VarintCodec.Instance, 0),
};

var payloads = new List<byte[]>
{
    Encoding.UTF8.GetBytes("Welcome to the server!"),
    Encoding.UTF8.GetBytes("The time is 1552068302.0181189"),
    Array.Empty<byte>(),
    new byte[] { 0, 1, 2, 0xFF },
};
var large = new byte[40_000]; // larger than a pipe segment: exercises the multi-segment paths
for (int i = 0; i < large.Length; i++)
{
    large[i] = (byte)(i * 31);
}

payloads.Add(large);

int frames = 0;
foreach (var (name, codec, headerLength) in codecs)
{
    frames += await RoundTripAsync(name, codec, headerLength, payloads, readAll: false);
    frames += await RoundTripAsync(name, codec, headerLength, payloads, readAll: true);
}

if (!await MalformedHeaderIsRejectedAsync())
{
    return 1;
}

Console.WriteLine($"AotSmoke: {frames} frames through {codecs.Length} codecs OK " +
    $"(dynamic code supported: {RuntimeFeature.IsDynamicCodeSupported})");
return 0;

static async Task<int> RoundTripAsync(string name, IFrameCodec codec, int headerLength, List<byte[]> payloads, bool readAll)
{
    var pipe = new Pipe();
    var header = new byte[headerLength]; // the other header bytes (magic, type): left zero, the codec writes the length
    Task writing = Task.Run(async () =>
    {
        var writer = new FrameWriter(pipe.Writer, codec);
        foreach (byte[] payload in payloads)
        {
            if (headerLength == 0)
            {
                await writer.WriteAsync(payload);                       // write + flush
                writer.Write(new ReadOnlySequence<byte>(payload));      // a sequence
                IBufferWriter<byte> body = writer.BeginFrame();         // straight into the pipe
                body.Write(payload);
                writer.EndFrame();
            }
            else
            {
                for (int i = 0; i < 3; i++)
                {
                    writer.Write(header, payload);
                }
            }

            await writer.FlushAsync();
        }

        writer.Complete();
    });

    var reader = new FrameReader(pipe.Reader, codec);
    var received = new List<byte[]>();
    if (readAll)
    {
        await foreach (Frame frame in reader.ReadAllAsync())
        {
            received.Add(frame.Payload.ToArray());
        }
    }
    else
    {
        while (true)
        {
            if (reader.TryReadFrame(out Frame buffered))
            {
                received.Add(buffered.Payload.ToArray());
                continue;
            }

            FrameReadResult result = await reader.ReadFrameAsync();
            if (result.IsCompleted)
            {
                break;
            }

            received.Add(result.Frame.Payload.ToArray());
        }
    }

    reader.Complete();
    await writing;

    if (received.Count != payloads.Count * 3)
    {
        Fail(name, $"{received.Count} frames received, {payloads.Count * 3} sent");
    }

    for (int i = 0; i < received.Count; i++)
    {
        if (!received[i].AsSpan().SequenceEqual(payloads[i / 3]))
        {
            Fail(name, $"frame {i}: {received[i].Length} bytes received, {payloads[i / 3].Length} sent, or contents differ");
        }
    }

    return received.Count;
}

static async Task<bool> MalformedHeaderIsRejectedAsync()
{
    var pipe = new Pipe();
    pipe.Writer.Write(Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\n"));
    pipe.Writer.Complete();
    var reader = new FrameReader(pipe.Reader, AsciiDecimalCodec.Default);
    try
    {
        await reader.ReadFrameAsync();
    }
    catch (FrameFormatException e) when (e.Kind == FrameErrorKind.Malformed && e.Message.Contains("HTTP", StringComparison.Ordinal))
    {
        return true;
    }

    Console.Error.WriteLine("AotSmoke: an HTTP request was not rejected as a malformed header");
    return false;
}

static void Fail(string codec, string what)
{
    Console.Error.WriteLine($"AotSmoke: {codec}: {what}");
    Environment.Exit(1);
}
