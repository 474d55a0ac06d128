using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using HeaderFraming.Codecs;
using HeaderFraming.Testing;
using HeaderFraming.Tests.Infrastructure;

namespace HeaderFraming.Tests.Connections;

/// <summary>Where a connection's buffers come from, how big its reads are, and that an idle connection holds none.</summary>
public sealed class ConnectionMemoryTests
{
    private static readonly TimeSpan s_limit = TimeSpan.FromSeconds(20);

    /// <summary>A pool that counts the blocks it has out and records the sizes asked for.</summary>
    private sealed class CountingPool : MemoryPool<byte>
    {
        private int _outstanding;

        public int Outstanding => Volatile.Read(ref _outstanding);

        public System.Collections.Concurrent.ConcurrentQueue<int> Requests { get; } = new();

        public override int MaxBufferSize => 1024 * 1024;

        public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
        {
            Requests.Enqueue(minBufferSize);
            Interlocked.Increment(ref _outstanding);
            return new Owner(this, new byte[Math.Max(minBufferSize, 4096)]);
        }

        protected override void Dispose(bool disposing)
        {
        }

        private sealed class Owner(CountingPool pool, byte[] array) : IMemoryOwner<byte>
        {
            private int _disposed;

            public Memory<byte> Memory { get; } = array;

            public void Dispose()
            {
                if (Interlocked.Exchange(ref _disposed, 1) == 0)
                {
                    Interlocked.Decrement(ref pool._outstanding);
                }
            }
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task AnIdleConnectionHoldsNoBlockOfItsPoolBetweenFrames(bool overNetworkStream)
    {
        var pool = new CountingPool();
        var options = new FramedConnectionOptions { MemoryPool = pool };
        (Socket client, Socket server) = await Loopback.ConnectedPairAsync();
        await using FramedConnection peer = FramedConnection.Create(client, AsciiDecimalCodec.Default);
        await using FramedConnection connection = overNetworkStream
            ? FramedConnection.Create(new NetworkStream(server, ownsSocket: true), AsciiDecimalCodec.Default, options)
            : FramedConnection.Create(server, AsciiDecimalCodec.Default, options);

        for (int round = 0; round < 3; round++)
        {
            await peer.SendAsync(FrameTestKit.Ascii("Welcome to the server!"));
            FrameReadResult result = await connection.ReadFrameAsync().AsTask().WaitAsync(s_limit);
            Assert.True(result.HasFrame);
            await connection.SendAsync(FrameTestKit.Ascii("The time is 1552068299.01783"));
            Assert.True((await peer.ReadFrameAsync().AsTask().WaitAsync(s_limit)).HasFrame);

            // Waiting for the next frame, with everything sent: no receive block, no send block.
            ValueTask<FrameReadResult> next = connection.ReadFrameAsync();
            Assert.False(next.IsCompleted);
            await Poll.UntilAsync(() => pool.Outstanding == 0, s_limit, () => $"an idle connection holds no block (it holds {pool.Outstanding})");
            Assert.True(pool.Requests.Count > 0, "the connection never used its pool");
            await peer.SendAsync(FrameTestKit.Ascii("x"));
            Assert.True((await next.AsTask().WaitAsync(s_limit)).HasFrame);
        }
    }

    [Theory]
    [InlineData("duplex pipe", 1)]
    [InlineData("socket", 0)]
    [InlineData("network stream", 0)]
    public async Task WithoutWaitingForDataAnIdleConnectionHoldsItsReceiveBlockUnlessItCanTellThatAReceiveWouldWait(string transport, int blocksHeld)
    {
        // A socket (or a NetworkStream over one) says whether a receive would complete at once; the connection then never
        // leaves one pending (a cancelled socket receive can stay pending and take the bytes meant for the socket's next
        // owner after a detach), so it waits for data without a block whatever the option says. A pipe cannot tell.
        var pool = new CountingPool();
        var options = new FramedConnectionOptions { MemoryPool = pool, WaitForDataBeforeAllocatingBuffer = false };
        FramedConnection peer;
        FramedConnection connection;
        IDisposable? sockets = null;
        if (transport == "duplex pipe")
        {
            (IDuplexPipe mine, IDuplexPipe theirs) = DuplexPipe.CreatePair();
            peer = FramedConnection.Create(theirs, AsciiDecimalCodec.Default);
            connection = FramedConnection.Create(mine, AsciiDecimalCodec.Default, options);
        }
        else
        {
            SocketPair pair = await Loopback.ConnectedPairAsync();
            sockets = pair;
            peer = FramedConnection.Create(pair.Client, AsciiDecimalCodec.Default);
            connection = transport == "socket"
                ? FramedConnection.Create(pair.Server, AsciiDecimalCodec.Default, options)
                : FramedConnection.Create(new NetworkStream(pair.Server, ownsSocket: false), AsciiDecimalCodec.Default, options);
        }

        using (sockets)
        {
            await using (peer)
            await using (connection)
            {
                await peer.SendAsync(FrameTestKit.Ascii("hello"));
                Assert.True((await connection.ReadFrameAsync().AsTask().WaitAsync(s_limit)).HasFrame);
                ValueTask<FrameReadResult> next = connection.ReadFrameAsync();
                // The receive loop settles on its own thread: wait for the count it should settle on, then check it stays.
                await Poll.UntilAsync(() => pool.Outstanding == blocksHeld, s_limit, () => $"an idle connection over a {transport} holds {blocksHeld} blocks (it holds {pool.Outstanding})");
                await Task.Delay(50);
                Assert.Equal(blocksHeld, pool.Outstanding);
                await peer.SendAsync(FrameTestKit.Ascii("x"));
                Assert.True((await next.AsTask().WaitAsync(s_limit)).HasFrame);
            }
        }
    }

    [Fact]
    public async Task ReadsStartSmallAndGrowWhileTheyFillTheirBuffer()
    {
        var pool = new CountingPool();
        var options = new FramedConnectionOptions { MemoryPool = pool };
        (Socket client, Socket server) = await Loopback.ConnectedPairAsync();
        await using FramedConnection peer = FramedConnection.Create(client, BinaryLengthCodec.UInt32BigEndian);
        await using FramedConnection connection = FramedConnection.Create(server, BinaryLengthCodec.UInt32BigEndian, options);

        await peer.SendAsync(new byte[10]);
        Assert.True((await connection.ReadFrameAsync().AsTask().WaitAsync(s_limit)).HasFrame);
        Assert.Equal(4096, pool.Requests.First());

        // A bulk transfer: reads fill their buffers, so they double up to the 64 KiB segment size, and no further.
        Task sending = Task.Run(async () =>
        {
            for (int i = 0; i < 64; i++)
            {
                await peer.SendAsync(new byte[256 * 1024]);
            }
        });
        for (int i = 0; i < 64; i++)
        {
            Assert.True((await connection.ReadFrameAsync().AsTask().WaitAsync(s_limit)).HasFrame);
        }

        await sending;
        int[] receives = pool.Requests.ToArray();
        Assert.Contains(FramedConnectionOptions.DefaultSegmentSize, receives);
        Assert.All(receives, size => Assert.InRange(size, 1, FramedConnectionOptions.DefaultSegmentSize));
    }

    [Fact]
    public async Task AFrameSpanningSegmentsGoesOutWholeThroughAGatheredSend()
    {
        (Socket client, Socket server) = await Loopback.ConnectedPairAsync();
        await using FramedConnection sender = FramedConnection.Create(client, BinaryLengthCodec.UInt32BigEndian);
        await using FramedConnection receiver = FramedConnection.Create(server, BinaryLengthCodec.UInt32BigEndian);

        // 300 KiB frames span five 64 KiB outbound segments: each goes out through one gathered send.
        byte[][] payloads = Enumerable.Range(0, 8).Select(i => Generators.Bytes(300 * 1024 + i, seed: i)).ToArray();
        Task sending = Task.Run(async () =>
        {
            foreach (byte[] payload in payloads)
            {
                await sender.SendAsync(payload);
            }
        });
        foreach (byte[] payload in payloads)
        {
            FrameReadResult result = await receiver.ReadFrameAsync().AsTask().WaitAsync(s_limit);
            Assert.True(result.HasFrame);
            Assert.Equal(payload, result.Frame.Payload.ToArray());
        }

        await sending;
    }
}
