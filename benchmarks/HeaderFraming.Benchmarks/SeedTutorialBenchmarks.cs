using System.Globalization;
using System.IO.Pipelines;
using System.Text;
using BenchmarkDotNet.Attributes;
using HeaderFraming.Benchmarks.Infrastructure;
using HeaderFraming.Codecs;
using HeaderFraming.Testing;

namespace HeaderFraming.Benchmarks;

/// <summary>
/// The seed Python tutorial's client ported literally (10-character ASCII header, 16-byte receives, string concatenation)
/// against FrameReader, 16 B and 1 KiB payloads. The tutorial's loop cannot split a back-to-back stream (a 16-byte receive
/// that holds the end of one message and the start of the next never satisfies its <c>len(full_msg) - HEADERSIZE == msglen</c>
/// test), so every variant here reads a stream that returns at most one message per read.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(PerFrameConfig))]
public class SeedTutorialBenchmarks : IWholeBufferBenchmark
{
    private const int HeaderSize = 10;

    private Workload _ascii = null!;

    [Params(16, 1024)]
    public int PayloadSize { get; set; }

    [GlobalSetup]
    public void Setup() => _ascii = Workload.Create(AsciiDecimalCodec.Default, PayloadSize);

    public byte[] Buffer => _ascii.Buffer;

    /// <summary>HeaderFraming on the same one-message-per-read stream.</summary>
    [Benchmark(Baseline = true)]
    public async Task<long> FrameReader_OneMessagePerRead()
    {
        var reader = new FrameReader(PipeReader.Create(OneMessagePerRead(), new StreamPipeReaderOptions(bufferSize: 64 * 1024)), _ascii.Codec);
        long frames = 0;
        long sum = 0;
        while (true)
        {
            FrameReadResult result = await reader.ReadFrameAsync();
            if (!result.HasFrame)
            {
                break;
            }

            sum += Check.Touch(result.Frame.Payload);
            frames++;
        }

        reader.Complete();
        Check.Frames(nameof(FrameReader_OneMessagePerRead), frames, sum, _ascii);
        return sum;
    }

    /// <summary>The tutorial's client loop, line for line (the 16-byte receive buffer is reused; Python allocates one per recv).</summary>
    [Benchmark]
    public long SeedTutorialClient()
    {
        var s = OneMessagePerRead();
        var receive = new byte[16];
        long frames = 0;
        long sum = 0;

        string fullMsg = string.Empty;                                  // full_msg = ''
        bool newMsg = true;                                             // new_msg = True
        int msgLen = 0;
        while (true)
        {
            int n = s.Read(receive, 0, 16);                             // msg = s.recv(16)
            if (n == 0)
            {
                break;
            }

            if (newMsg)                                                 // if new_msg:
            {
                msgLen = int.Parse(Encoding.UTF8.GetString(receive, 0, Math.Min(n, HeaderSize)), CultureInfo.InvariantCulture); // msglen = int(msg[:HEADERSIZE])
                newMsg = false;
            }

            fullMsg += Encoding.UTF8.GetString(receive, 0, n);          // full_msg += msg.decode("utf-8")
            if (fullMsg.Length - HeaderSize == msgLen)                  // if len(full_msg)-HEADERSIZE == msglen:
            {
                string message = fullMsg[HeaderSize..];                 // print(full_msg[HEADERSIZE:])
                sum += Workload.FrameSum(message.Length, (byte)message[0], (byte)message[^1]);
                frames++;
                newMsg = true;                                          // new_msg = True
                fullMsg = string.Empty;                                 // full_msg = ''
            }
        }

        Check.Frames(nameof(SeedTutorialClient), frames, sum, _ascii);
        return sum;
    }

    /// <summary>For reference: FrameReader on the same bytes back to back (64 KiB reads), which the tutorial cannot decode.</summary>
    [Benchmark]
    public async Task<long> FrameReader_BackToBack()
    {
        var reader = new FrameReader(PipeReader.Create(new MemoryStream(_ascii.Buffer, writable: false), new StreamPipeReaderOptions(bufferSize: 64 * 1024)), _ascii.Codec);
        long frames = 0;
        long sum = 0;
        while (true)
        {
            FrameReadResult result = await reader.ReadFrameAsync();
            if (!result.HasFrame)
            {
                break;
            }

            sum += Check.Touch(result.Frame.Payload);
            frames++;
        }

        reader.Complete();
        Check.Frames(nameof(FrameReader_BackToBack), frames, sum, _ascii);
        return sum;
    }

    /// <summary>A stream over the workload that never returns bytes of two messages in one read, as if every message arrived
    /// in its own TCP segment with the reader keeping up. The seed tutorial's client only works on such a stream.</summary>
    private TrickleStream OneMessagePerRead() => new(_ascii.Buffer, _ascii.FrameEnds);
}
