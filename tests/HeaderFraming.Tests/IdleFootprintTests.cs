using System.Buffers;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using HeaderFraming.Codecs;
using HeaderFraming.Internal;
using HeaderFraming.Testing;
using Xunit.Abstractions;

namespace HeaderFraming.Tests;

/// <summary>
/// What an idle <see cref="FramedConnection"/> over a socket holds (issue "server-grade connections", item 9): the managed
/// heap per connection of 2,000 idle server ends, each accepted, wrapped, its one frame read and its next read pending.
/// Memory, not time; the benchmarks' <c>--footprint</c> probe measures the same with the clients in another process.
/// </summary>
/// <remarks>
/// <para><b>What is counted</b> is everything the server holds for the connection: the accepted <see cref="Socket"/> (its
/// handle, its async context, its cached receive arguments), the connection, its pipes, its loops and the pending read. The
/// client ends are in this process too, so they are made first: every client connects and sends its frame while the
/// listeners accept none (the kernel's accept queues hold them), and the baseline is measured then. What grows from there
/// to "all idle" is the server ends alone. The arrays that hold them are made before the baseline.</para>
/// <para><b>The pool</b>: free blocks that <see cref="BlockMemoryPool.Default"/> keeps (or trims) meanwhile are not the
/// connections' and are taken out of the figure; a block an idle connection still holds is counted.</para>
/// <para><b>The floor</b>: the same with bare sockets that have a pending zero-byte receive, nothing else — what any server
/// holds per connection; the connection's figure is compared with it (the second target is 3x).</para>
/// <para>Each figure is the median of three rounds, each with fresh connections, after a full collection.</para>
/// </remarks>
[Collection(nameof(LoadTests))]
public sealed class IdleFootprintTests(ITestOutputHelper output)
{
    private const int Connections = 2000;
    private const int Rounds = 3;

    /// <summary>The target: at most 4 KiB of managed heap per idle FramedConnection over a Socket.</summary>
    private const double BoundBytes = 4 * 1024;

    /// <summary>Hang detection only: the test takes a few seconds.</summary>
    private static readonly TimeSpan s_limit = TimeSpan.FromMinutes(2);

    private static readonly byte[] s_frame = Encoding.ASCII.GetBytes("22        Welcome to the server!");

    private enum ServerEnd
    {
        FramedConnection,
        BareSocket,
    }

    [Fact]
    public async Task AnIdleFramedConnectionOverASocketHoldsAtMostFourKiBOfManagedHeap()
    {
        using var timeout = new CancellationTokenSource(s_limit);

        // Whatever is made once per process (the socket engine, statics, the pool's first blocks) before the rounds.
        await MeasureAsync(ServerEnd.BareSocket, 32, timeout.Token);
        await MeasureAsync(ServerEnd.FramedConnection, 32, timeout.Token);

        var floor = new List<Footprint>();
        var framed = new List<Footprint>();
        for (int round = 1; round <= Rounds; round++)
        {
            floor.Add(await MeasureAsync(ServerEnd.BareSocket, Connections, timeout.Token));
            framed.Add(await MeasureAsync(ServerEnd.FramedConnection, Connections, timeout.Token));
            output.WriteLine($"round {round}: bare socket {floor[^1]}; FramedConnection {framed[^1]}");
        }

        double floorBytes = Median(floor);
        double framedBytes = Median(framed);
        output.WriteLine(
            FormattableString.Invariant($"median of {Rounds} rounds of {Connections:N0} idle connections: FramedConnection over a Socket ") +
            FormattableString.Invariant($"{framedBytes:N0} B ({framedBytes / 1024:N2} KiB; bound {BoundBytes / 1024:N0} KiB), ") +
            FormattableString.Invariant($"bare socket with a pending zero-byte receive {floorBytes:N0} B, ratio {framedBytes / floorBytes:N2}x (target 3x)"));

        // The method sees a connection at all: a bare socket with a pending receive holds about 1 KiB (its async context and
        // receive arguments), so a figure near zero would mean the measurement, not the connection, is broken.
        Assert.True(floorBytes >= 512, $"a bare idle socket measured {floorBytes:N0} B: the measurement does not see the server ends");
        Assert.True(
            framedBytes <= BoundBytes,
            FormattableString.Invariant($"an idle FramedConnection over a Socket holds {framedBytes:N0} B of managed heap, over the {BoundBytes:N0} B bound"));
    }

    private static double Median(List<Footprint> footprints)
        => footprints.Select(f => f.BytesPerConnection).Order().ElementAt(footprints.Count / 2);

    /// <summary>Brings <paramref name="count"/> server ends of one kind to idle and measures what they hold.</summary>
    private static async Task<Footprint> MeasureAsync(ServerEnd kind, int count, CancellationToken cancellationToken)
    {
        int queueLength = AcceptQueueLength();
        var listeners = new Socket[(count + queueLength - 1) / queueLength];
        var clients = new Socket?[count];
        bool framed = kind == ServerEnd.FramedConnection;
        var connections = new FramedConnection?[framed ? count : 0];
        var pendingFrames = new ValueTask<FrameReadResult>[framed ? count : 0];
        var sockets = new Socket?[framed ? 0 : count];
        var pendingReceives = new ValueTask<int>[framed ? 0 : count];
        byte[] scratch = new byte[s_frame.Length];
        try
        {
            for (int l = 0; l < listeners.Length; l++)
            {
                listeners[l] = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                listeners[l].Bind(new IPEndPoint(IPAddress.Loopback, 0));
                listeners[l].Listen(queueLength);
            }

            // The client ends: connected and their frame sent, none accepted yet.
            for (int i = 0; i < count; i++)
            {
                clients[i] = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                clients[i]!.Connect(listeners[i / queueLength].LocalEndPoint!);
                clients[i]!.Send(s_frame);
            }

            long before = await SettledHeapAsync(cancellationToken);
            long poolBefore = BlockMemoryPool.Default.RetainedBytes;
            long poolCreatedBefore = BlockMemoryPool.Default.BytesCreated;

            // The server ends, one at a time as an accept loop would, each brought to idle.
            for (int i = 0; i < count; i++)
            {
                Socket accepted = await listeners[i / queueLength].AcceptAsync(cancellationToken);
                if (framed)
                {
                    FramedConnection connection = FramedConnection.Create(accepted, AsciiDecimalCodec.Default);
                    connections[i] = connection;
                    FrameReadResult first = await connection.ReadFrameAsync(cancellationToken);
                    Assert.True(first.HasFrame && first.Frame.Payload.ToArray().AsSpan().SequenceEqual(s_frame.AsSpan(10)), $"connection {i}: the frame did not arrive intact");
                    pendingFrames[i] = connection.ReadFrameAsync(CancellationToken.None);
                    Assert.False(pendingFrames[i].IsCompleted, $"connection {i}: the read after the frame completed at once");
                }
                else
                {
                    sockets[i] = accepted;
                    await ReceiveFrameAsync(accepted, scratch, cancellationToken);
                    pendingReceives[i] = accepted.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None);
                }
            }

            // Let the receive loops settle into their zero-byte waits.
            await Task.Delay(TimeSpan.FromMilliseconds(200), cancellationToken);
            int reissued = ReissueSpuriousWakeUps(sockets, pendingReceives);
            // Measured once the heap stops moving, so that a loop still settling on a loaded machine is not counted.
            long after = await SettledHeapAsync(cancellationToken);

            // A spurious wake-up while the heap settled is re-issued too, and the heap measured again with its new read.
            int reissuedLate = ReissueSpuriousWakeUps(sockets, pendingReceives);
            if (reissuedLate > 0)
            {
                reissued += reissuedLate;
                after = HeapAfterFullCollection();
            }

            long poolFreed = poolBefore - BlockMemoryPool.Default.RetainedBytes;
            long poolCreated = BlockMemoryPool.Default.BytesCreated - poolCreatedBefore;
            for (int i = 0; i < count; i++)
            {
                Assert.False(framed ? pendingFrames[i].IsCompleted : pendingReceives[i].IsCompleted, $"connection {i} is not idle");
            }

            // Free blocks the pool trimmed meanwhile left the heap without being the connections'; blocks it gained are its own.
            return new Footprint((after - before + poolFreed) / (double)count, -poolFreed, poolCreated + poolFreed, reissued);
        }
        finally
        {
            var closing = new List<Task>();
            for (int i = 0; i < connections.Length; i++)
            {
                if (connections[i] is FramedConnection connection)
                {
                    closing.Add(PendingReads.CloseAsync(connection, pendingFrames[i]));
                }
            }

            for (int i = 0; i < sockets.Length; i++)
            {
                if (sockets[i] is Socket socket)
                {
                    closing.Add(PendingReads.CloseAsync(socket, pendingReceives[i]));
                }
            }

            await Task.WhenAll(closing);
            foreach (Socket? client in clients)
            {
                client?.Dispose();
            }

            foreach (Socket? listener in listeners)
            {
                listener?.Dispose();
            }
        }
    }

    /// <summary>How many connections one listener's accept queue holds: Linux caps a backlog at net.core.somaxconn
    /// (4,096 by default since 5.4, 128 before), and a connect to a full queue stalls.</summary>
    private static int AcceptQueueLength()
    {
        const string SoMaxConn = "/proc/sys/net/core/somaxconn";
        int max = File.Exists(SoMaxConn) && int.TryParse(File.ReadAllText(SoMaxConn).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int value)
            ? value
            : 128;
        return Math.Clamp(max, 1, 1000);
    }

    private static long HeapAfterFullCollection()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        return GC.GetTotalMemory(forceFullCollection: true);
    }

    /// <summary>The heap once what the previous round closed has gone: for a few hundred milliseconds after they are
    /// disposed, 2,000 closed connections are still reachable (their loops' last continuations, the sockets' aborted
    /// operations on the thread pool), and a baseline taken then would make the next round's figure too small.</summary>
    private static async Task<long> SettledHeapAsync(CancellationToken cancellationToken)
    {
        const long Stable = 32 * 1024;
        long previous = HeapAfterFullCollection();
        for (int i = 0; i < 20; i++)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(250), cancellationToken);
            long current = HeapAfterFullCollection();
            if (Math.Abs(current - previous) <= Stable)
            {
                return current;
            }

            previous = current;
        }

        return previous;
    }

    /// <summary>Re-issues the zero-byte receives that woke without data, as a server's receive loop would.</summary>
    private static int ReissueSpuriousWakeUps(Socket?[] sockets, ValueTask<int>[] pendingReceives)
    {
        int reissued = 0;
        for (int i = 0; i < sockets.Length; i++)
        {
            if (PendingReads.ReissueIfSpurious(sockets[i]!, ref pendingReceives[i]))
            {
                reissued++;
            }
        }

        return reissued;
    }

    private static async Task ReceiveFrameAsync(Socket socket, byte[] buffer, CancellationToken cancellationToken)
    {
        int received = 0;
        while (received < buffer.Length)
        {
            int read = await socket.ReceiveAsync(buffer.AsMemory(received), SocketFlags.None, cancellationToken);
            Assert.True(read > 0, "the client closed before its frame arrived");
            received += read;
        }

        Assert.Equal(s_frame, buffer);
    }

    /// <summary>One round's figure: managed heap per connection (the pool's free blocks taken out), how much the pool's
    /// free blocks grew meanwhile, the pool's blocks still rented by the idle connections (counted in the figure; none is
    /// the design, but a zero-byte wait that wakes without data leaves a receive waiting with a block), and how many bare
    /// zero-byte receives had to be issued again.</summary>
    private readonly record struct Footprint(double BytesPerConnection, long PoolFreeGrowth, long PoolBlocksHeld, int Reissued)
    {
        public override string ToString() => FormattableString.Invariant(
            $"{BytesPerConnection:N0} B per connection (pool: free blocks {PoolFreeGrowth:+#,0;-#,0;0} B, blocks held {PoolBlocksHeld:N0} B; {Reissued} zero-byte receives re-issued)");
    }
}
