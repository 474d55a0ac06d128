using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using BenchmarkDotNet.Attributes;
using HeaderFraming.Benchmarks.Infrastructure;
using HeaderFraming.Codecs;

namespace HeaderFraming.Benchmarks;

/// <summary>
/// Sending the ~16 MiB workload (4-byte big-endian prefix) over a loopback TCP connection made once per benchmark case:
/// a sender task writes it while the benchmark thread receives and decodes every frame (count and checksum checked).
/// Raw sockets, <c>PipeReader.Create(new NetworkStream(socket))</c> and FrameReader directly; the FramedConnection and
/// concurrent-writers-with-coalescing benchmarks come with the transports work.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(PerFrameConfig))]
public class LoopbackTcpBenchmarks : IWholeBufferBenchmark
{
    private const int ChunkSize = 64 * 1024;

    private Workload _uint32 = null!;
    private Socket _sender = null!;
    private Socket _receiver = null!;
    private NetworkStream _receiveStream = null!;
    private byte[] _receiveBuffer = null!;

    [Params(16, 1024, 65536)]
    public int PayloadSize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _uint32 = Workload.Create(BinaryLengthCodec.UInt32BigEndian, PayloadSize);
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        _sender = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        _sender.Connect(listener.LocalEndPoint!);
        _receiver = listener.Accept();
        _receiveStream = new NetworkStream(_receiver, ownsSocket: false);
        _receiveBuffer = new byte[ChunkSize];
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _receiveStream.Dispose();
        _sender.Dispose();
        _receiver.Dispose();
    }

    /// <summary>The physical limit: 64 KiB sends, 64 KiB receives, no framing (checks the byte count and the last byte).</summary>
    [Benchmark(Baseline = true)]
    public async Task<long> RawSocket64KiB()
    {
        Task sending = SendChunksAsync();
        byte[] buffer = _uint32.Buffer;
        long received = 0;
        byte last = 0;
        while (received < buffer.Length)
        {
            int n = await _receiver.ReceiveAsync(_receiveBuffer.AsMemory(0, (int)Math.Min(ChunkSize, buffer.Length - received)), SocketFlags.None);
            if (n == 0)
            {
                throw new InvalidOperationException("The connection closed early.");
            }

            received += n;
            last = _receiveBuffer[n - 1];
        }

        await sending;
        if (received != buffer.Length || last != buffer[^1])
        {
            throw new InvalidOperationException($"{nameof(RawSocket64KiB)} received {received} bytes ending in {last}; expected {buffer.Length} ending in {buffer[^1]}.");
        }

        return received;
    }

    /// <summary>One Send() per frame (what a naive sender does), decoded by FrameReader.</summary>
    [Benchmark]
    public async Task<long> SendPerFrame_FrameReader()
    {
        Task sending = Task.Run(() =>
        {
            byte[] buffer = _uint32.Buffer;
            int start = 0;
            foreach (int end in _uint32.FrameEnds)
            {
                _sender.Send(buffer.AsSpan(start, end - start));
                start = end;
            }
        });
        long sum = await ReceiveWithFrameReaderAsync(nameof(SendPerFrame_FrameReader));
        await sending;
        return sum;
    }

    /// <summary>64 KiB sends, received by FrameReader over PipeReader.Create(NetworkStream).</summary>
    [Benchmark]
    public async Task<long> FrameReader()
    {
        Task sending = SendChunksAsync();
        long sum = await ReceiveWithFrameReaderAsync(nameof(FrameReader));
        await sending;
        return sum;
    }

    /// <summary>64 KiB sends, received by the straightforward Pipelines loop (one ReadAsync and AdvanceTo per frame).</summary>
    [Benchmark]
    public async Task<long> StraightforwardPipelines()
    {
        Task sending = SendChunksAsync();
        PipeReader reader = PipeReader.Create(_receiveStream, new StreamPipeReaderOptions(bufferSize: ChunkSize, leaveOpen: true));
        long frames = 0;
        long sum = 0;
        while (frames < _uint32.FrameCount)
        {
            ReadResult result = await reader.ReadAsync();
            ReadOnlySequence<byte> buffer = result.Buffer;
            var sequenceReader = new SequenceReader<byte>(buffer);
            if (sequenceReader.TryReadBigEndian(out int length) && sequenceReader.Remaining >= length)
            {
                ReadOnlySequence<byte> payload = buffer.Slice(sequenceReader.Position, length);
                sum += Check.Touch(payload);
                frames++;
                reader.AdvanceTo(payload.End);
                continue;
            }

            if (result.IsCompleted)
            {
                break;
            }

            reader.AdvanceTo(buffer.Start, buffer.End);
        }

        await reader.CompleteAsync();
        await sending;
        Check.Frames(nameof(StraightforwardPipelines), frames, sum, _uint32);
        return sum;
    }

    private Task SendChunksAsync() => Task.Run(() =>
    {
        byte[] buffer = _uint32.Buffer;
        for (int offset = 0; offset < buffer.Length; offset += ChunkSize)
        {
            _sender.Send(buffer.AsSpan(offset, Math.Min(ChunkSize, buffer.Length - offset)));
        }
    });

    private async Task<long> ReceiveWithFrameReaderAsync(string name)
    {
        // The connection stays open between invocations, so stop after the expected frames rather than at the end of stream.
        PipeReader pipeReader = PipeReader.Create(_receiveStream, new StreamPipeReaderOptions(bufferSize: ChunkSize, leaveOpen: true));
        var reader = new FrameReader(pipeReader, _uint32.Codec);
        long frames = 0;
        long sum = 0;
        while (frames < _uint32.FrameCount)
        {
            // The span loop: contiguous frames drained synchronously, split ones and waits through ReadFrameAsync.
            while (frames < _uint32.FrameCount && reader.TryReadFrame(out ReadOnlySpan<byte> _, out ReadOnlySpan<byte> payload))
            {
                sum += Check.Touch(payload);
                frames++;
            }

            if (frames == _uint32.FrameCount)
            {
                break;
            }

            FrameReadResult result = await reader.ReadFrameAsync();
            if (!result.HasFrame)
            {
                break;
            }

            sum += Check.Touch(result.Frame.Payload);
            frames++;
        }

        reader.Complete();
        Check.Frames(name, frames, sum, _uint32);
        return sum;
    }
}
