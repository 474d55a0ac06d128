using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using BenchmarkDotNet.Attributes;
using HeaderFraming.Benchmarks.Infrastructure;
using HeaderFraming.Codecs;
using HeaderFraming.Testing;

namespace HeaderFraming.Benchmarks;

/// <summary>
/// Sending the ~16 MiB workload (4-byte big-endian prefix) over loopback TCP connections made once per benchmark case:
/// sender tasks write it while the benchmark thread receives and decodes every frame (count and checksum checked).
/// <list type="bullet">
/// <item>RawSocket64KiB (baseline): 64 KiB sends and receives, no framing — the physical limit of this machine.</item>
/// <item>FrameReader / StraightforwardPipelines: 64 KiB raw sends received by FrameReader over
/// <c>PipeReader.Create(new NetworkStream(socket))</c> (the span loop), or by the straightforward Pipelines loop.</item>
/// <item>SendPerFrame_FrameReader / SendPerFrame: one <c>Socket.Send</c> per frame (what a naive sender does), received by
/// FrameReader or by a FramedConnection: the rate that coalescing must beat.</item>
/// <item>FramedConnection_ConcurrentSenders: 16 tasks calling <c>SendAsync</c> on one connection; flushes coalesce.</item>
/// <item>FramedConnection_OneSender: one task awaiting <c>SendAsync</c> per frame.</item>
/// <item>FramedConnection_Receive: 64 KiB raw sends received by a FramedConnection with 64 KiB segments (the default),
/// and the same with 4 KiB segments (the BCL's default buffer size).</item>
/// </list>
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
    private readonly List<SocketPair> _sockets = new();
    private Socket _chunkSender = null!;
    private FramedConnection _chunkReceiver = null!;
    private Socket _chunkSender4K = null!;
    private FramedConnection _chunkReceiver4K = null!;
    private Socket _perFrameSender = null!;
    private FramedConnection _perFrameReceiver = null!;
    private FramedConnection _framedSender = null!;
    private FramedConnection _framedReceiver = null!;

    private const int Senders = 16;

    [Params(16, 1024, 65536)]
    public int PayloadSize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _uint32 = Workload.Create(BinaryLengthCodec.UInt32BigEndian, PayloadSize);
        (_sender, _receiver) = Pair();
        _receiveStream = new NetworkStream(_receiver, ownsSocket: false);
        _receiveBuffer = new byte[ChunkSize];

        (_chunkSender, Socket chunkReceiver) = Pair();
        _chunkReceiver = FramedConnection.Create(chunkReceiver, _uint32.Codec);
        (_chunkSender4K, Socket chunkReceiver4K) = Pair();
        _chunkReceiver4K = FramedConnection.Create(chunkReceiver4K, _uint32.Codec, new FramedConnectionOptions { SegmentSize = 4096 });
        (_perFrameSender, Socket perFrameReceiver) = Pair();
        _perFrameReceiver = FramedConnection.Create(perFrameReceiver, _uint32.Codec);
        (Socket framedSender, Socket framedReceiver) = Pair();
        _framedSender = FramedConnection.Create(framedSender, _uint32.Codec);
        _framedReceiver = FramedConnection.Create(framedReceiver, _uint32.Codec);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _receiveStream.Dispose();
        foreach (FramedConnection connection in new[] { _chunkReceiver, _chunkReceiver4K, _perFrameReceiver, _framedSender, _framedReceiver })
        {
            connection.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }

        foreach (SocketPair pair in _sockets)
        {
            pair.Dispose();
        }
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
        Task sending = SendFramesOneByOneAsync(_sender);
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

    private Task SendChunksAsync() => SendChunksAsync(_sender);

    /// <summary>One Send() per frame, from a thread-pool thread.</summary>
    private Task SendFramesOneByOneAsync(Socket sender) => Task.Run(() =>
    {
        byte[] buffer = _uint32.Buffer;
        int start = 0;
        foreach (int end in _uint32.FrameEnds)
        {
            sender.Send(buffer.AsSpan(start, end - start));
            start = end;
        }
    });

    private Task SendChunksAsync(Socket sender) => Task.Run(() =>
    {
        byte[] buffer = _uint32.Buffer;
        for (int offset = 0; offset < buffer.Length; offset += ChunkSize)
        {
            sender.Send(buffer.AsSpan(offset, Math.Min(ChunkSize, buffer.Length - offset)));
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

    /// <summary>One Send() per frame, the rate that coalescing must beat; received by a FramedConnection.</summary>
    [Benchmark]
    public async Task<long> SendPerFrame()
    {
        Task sending = SendFramesOneByOneAsync(_perFrameSender);
        long sum = await ReceiveAsync(_perFrameReceiver, nameof(SendPerFrame));
        await sending;
        return sum;
    }

    /// <summary>16 tasks share one FramedConnection and call SendAsync concurrently (flushes coalesce).</summary>
    [Benchmark]
    public async Task<long> FramedConnection_ConcurrentSenders()
    {
        Task[] senders = Enumerable.Range(0, Senders).Select(s => Task.Run(() => SendEveryNthAsync(s, Senders))).ToArray();
        long sum = await ReceiveAsync(_framedReceiver, nameof(FramedConnection_ConcurrentSenders));
        await Task.WhenAll(senders);
        return sum;
    }

    /// <summary>One task awaits SendAsync for every frame.</summary>
    [Benchmark]
    public async Task<long> FramedConnection_OneSender()
    {
        Task sender = Task.Run(() => SendEveryNthAsync(0, 1));
        long sum = await ReceiveAsync(_framedReceiver, nameof(FramedConnection_OneSender));
        await sender;
        return sum;
    }

    /// <summary>64 KiB raw sends received by a FramedConnection with 64 KiB segments (the default).</summary>
    [Benchmark]
    public async Task<long> FramedConnection_Receive()
    {
        Task sending = SendChunksAsync(_chunkSender);
        long sum = await ReceiveAsync(_chunkReceiver, nameof(FramedConnection_Receive));
        await sending;
        return sum;
    }

    /// <summary>The same with 4 KiB segments, the BCL's default buffer size.</summary>
    [Benchmark]
    public async Task<long> FramedConnection_Receive_4KiBSegments()
    {
        Task sending = SendChunksAsync(_chunkSender4K);
        long sum = await ReceiveAsync(_chunkReceiver4K, nameof(FramedConnection_Receive_4KiBSegments));
        await sending;
        return sum;
    }

    private async Task SendEveryNthAsync(int first, int step)
    {
        byte[] buffer = _uint32.Buffer;
        int[] ends = _uint32.FrameEnds;
        for (int i = first; i < ends.Length; i += step)
        {
            int start = i == 0 ? 0 : ends[i - 1];
            await _framedSender.SendAsync(buffer.AsMemory(start + 4, ends[i] - start - 4));
        }
    }

    /// <summary>Receives exactly the workload's frame count with the span loop (the connection stays open between invocations).</summary>
    private async Task<long> ReceiveAsync(FramedConnection connection, string name)
    {
        long frames = 0;
        long sum = 0;
        long expected = _uint32.FrameCount;
        while (frames < expected)
        {
            (long drained, long drainedSum) = Drain(connection, expected - frames);
            frames += drained;
            sum += drainedSum;
            if (frames == expected)
            {
                break;
            }

            FrameReadResult result = await connection.ReadFrameAsync();
            if (!result.HasFrame)
            {
                break;
            }

            sum += Check.Touch(result.Frame.Payload);
            frames++;
        }

        Check.Frames(name, frames, sum, _uint32);
        return sum;
    }

    private static (long Frames, long Sum) Drain(FramedConnection connection, long max)
    {
        long frames = 0;
        long sum = 0;
        while (frames < max && connection.TryReadFrame(out ReadOnlySpan<byte> _, out ReadOnlySpan<byte> payload))
        {
            sum += Check.Touch(payload);
            frames++;
        }

        return (frames, sum);
    }

    /// <summary>A loopback connection (sender, receiver), closed by <see cref="Cleanup"/>.</summary>
    private SocketPair Pair()
    {
        // GlobalSetup is synchronous.
        SocketPair pair = Loopback.ConnectedPairAsync().GetAwaiter().GetResult();
        _sockets.Add(pair);
        return pair;
    }
}
