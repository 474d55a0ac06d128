using System.Globalization;
using System.Net;
using System.Net.Sockets;
using HeaderFraming.Testing;

namespace HeaderFraming.Tests.Infrastructure;

/// <summary>
/// A TCP proxy on 127.0.0.1 that makes a loopback connection behave like a bad network: for every connection it accepts,
/// it connects to the real server and pumps bytes both ways, <b>re-slicing</b> the stream at random points (each write is
/// 1 byte to <see cref="Settings.MaxSliceLength"/>), <b>delaying</b> some pieces (at most <see cref="Settings.MaxDelay"/>
/// each), and <b>resetting</b> some connections (both of its sockets closed with a TCP RST) once one direction has carried
/// a random number of bytes. Half-closes are forwarded (a FIN from one side becomes a FIN to the other), so a peer that
/// completes sending can still read.
/// </summary>
/// <remarks>
/// Every random choice comes from <see cref="Settings.Seed"/> and the connection's index (the order of accepts): with the
/// same seed and connections made one at a time, each connection gets the same slices, delays and reset point (in bytes of
/// the stream, not in time), so a failure can be replayed. Only the thread timing differs from run to run.
/// </remarks>
public sealed class ChaosProxy : IAsyncDisposable
{
    private static readonly TimeSpan s_exitWait = TimeSpan.FromSeconds(10);

    private readonly IPEndPoint _target;
    private readonly Settings _settings;
    private readonly TcpListener _listener;
    private readonly List<Link> _links = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _acceptLoop;

    public ChaosProxy(IPEndPoint target, Settings settings)
    {
        Assert.True(IPAddress.IsLoopback(target.Address), "the chaos proxy forwards to loopback only");
        _target = target;
        _settings = settings;
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start(512);
        EndPoint = (IPEndPoint)_listener.LocalEndpoint;
        _acceptLoop = Task.Run(AcceptLoopAsync);
    }

    public sealed class Settings
    {
        public int Seed { get; init; }

        /// <summary>The largest piece the proxy writes at once; pieces run from 1 byte to this.</summary>
        public int MaxSliceLength { get; init; } = 4096;

        /// <summary>The chance that a piece waits before it is written.</summary>
        public double DelayProbability { get; init; } = 0.02;

        /// <summary>The longest wait before one piece (whole milliseconds, at least 1).</summary>
        public TimeSpan MaxDelay { get; init; } = TimeSpan.FromMilliseconds(5);

        /// <summary>The fraction of connections planned to be reset: spread evenly over the accept order (a seeded
        /// low-discrepancy sequence), so that any run of 10 connections has about this fraction of them.</summary>
        public double ResetFraction { get; init; } = 0.3;

        /// <summary>A planned reset comes after 1 to this many bytes of one direction (chosen at random); a connection whose
        /// direction ends before that is not reset.</summary>
        public long ResetWithinBytes { get; init; } = 1024 * 1024;
    }

    public enum Direction
    {
        ClientToServer,
        ServerToClient,
    }

    /// <summary>Where clients connect.</summary>
    public IPEndPoint EndPoint { get; }

    /// <summary>The connections accepted so far, in accept order.</summary>
    public IReadOnlyList<Link> Links
    {
        get
        {
            lock (_links)
            {
                return _links.ToArray();
            }
        }
    }

    /// <summary>The connection whose client is at <paramref name="clientEndPoint"/> (the client socket's local end point;
    /// an IPv4-mapped address of a dual-mode socket matches too).</summary>
    public Link LinkOf(EndPoint clientEndPoint)
    {
        var wanted = (IPEndPoint)clientEndPoint;
        return Links.Single(l => l.ClientEndPoint.Port == wanted.Port && l.ClientEndPoint.Address.MapToIPv4().Equals(wanted.Address.MapToIPv4()));
    }

    /// <summary>Stops accepting, resets every connection still open and waits for the pumps.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        foreach (Link link in Links)
        {
            link.Abort();
        }

        await Task.WhenAll(Links.Select(l => l.Completion).Append(_acceptLoop)).WaitAsync(s_exitWait);
        _stop.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        try
        {
            for (int index = 0; ; index++)
            {
                Socket client = await _listener.AcceptSocketAsync(_stop.Token);
                var link = new Link(index, client, _settings);
                lock (_links)
                {
                    _links.Add(link);
                }

                link.Start(_target);
            }
        }
        catch (Exception) when (_stop.IsCancellationRequested)
        {
            // Disposed: the listener is gone.
        }
    }

    /// <summary>One proxied connection: the socket accepted from the client and the one connected to the server.</summary>
    public sealed class Link
    {
        private readonly Settings _settings;
        private readonly Socket _client;
        private readonly Socket _server = new(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        private readonly long[] _forwarded = new long[2];
        private readonly int[] _slices = new int[2];
        private readonly int[] _delays = new int[2];
        private readonly int _seed;
        private int _closed;
        private volatile bool _wasReset;

        internal Link(int index, Socket client, Settings settings)
        {
            Index = index;
            _client = client;
            _client.NoDelay = true;
            _settings = settings;
            ClientEndPoint = (IPEndPoint)client.RemoteEndPoint!;
            _seed = unchecked((settings.Seed * 1_000_003) + (index * 7919));
            var plan = new Random(_seed);

            // The golden-ratio sequence from a seeded start: planned resets are spread evenly, not in random clumps.
            double start = new Random(settings.Seed).NextDouble();
            double position = (start + (index * 0.6180339887498949)) % 1.0;
            if (position < settings.ResetFraction)
            {
                ResetDirection = plan.Next(2) == 0 ? Direction.ClientToServer : Direction.ServerToClient;
                ResetAtByte = plan.NextInt64(1, settings.ResetWithinBytes + 1);
            }

            Completion = Task.CompletedTask;
        }

        /// <summary>The order in which the proxy accepted it.</summary>
        public int Index { get; }

        /// <summary>The client's end point, as the proxy sees it.</summary>
        public IPEndPoint ClientEndPoint { get; }

        /// <summary>The direction whose byte count triggers the planned reset, if one is planned.</summary>
        public Direction? ResetDirection { get; }

        /// <summary>After how many bytes of <see cref="ResetDirection"/> the connection is reset, if a reset is planned.</summary>
        public long? ResetAtByte { get; }

        /// <summary>Whether the proxy reset the connection (its planned point was reached before that direction ended).</summary>
        public bool WasReset => _wasReset;

        /// <summary>An unexpected failure of the proxy itself on a connection it did not reset (the test should fail).</summary>
        public Exception? Fault { get; private set; }

        /// <summary>Completes when both pumps have stopped and both sockets are closed.</summary>
        public Task Completion { get; private set; }

        public long Forwarded(Direction direction) => Interlocked.Read(ref _forwarded[(int)direction]);

        public int Slices(Direction direction) => Volatile.Read(ref _slices[(int)direction]);

        public int Delays(Direction direction) => Volatile.Read(ref _delays[(int)direction]);

        public override string ToString()
        {
            string plan = ResetAtByte is long at ? string.Create(CultureInfo.InvariantCulture, $"reset planned after byte {at:N0} {ResetDirection}") : "no reset planned";
            return string.Create(
                CultureInfo.InvariantCulture,
                $"proxy link {Index} ({plan}; {(WasReset ? "was reset" : "not reset")}; forwarded {Forwarded(Direction.ClientToServer):N0} B client-to-server in {Slices(Direction.ClientToServer):N0} pieces, {Forwarded(Direction.ServerToClient):N0} B server-to-client in {Slices(Direction.ServerToClient):N0} pieces{(Fault is null ? "" : "; proxy fault: " + Fault.Message)})");
        }

        internal void Start(IPEndPoint target) => Completion = Task.Run(() => RunAsync(target));

        /// <summary>Closes both sockets with an RST (the proxy is being disposed).</summary>
        internal void Abort() => Close(reset: true);

        private async Task RunAsync(IPEndPoint target)
        {
            try
            {
                await _server.ConnectAsync(target);
            }
            catch (Exception ex)
            {
                if (Volatile.Read(ref _closed) == 0)
                {
                    Fault = ex;
                    Close(reset: true);
                }

                return;
            }

            await Task.WhenAll(
                PumpAsync(_client, _server, Direction.ClientToServer, new Random(_seed + 1)),
                PumpAsync(_server, _client, Direction.ServerToClient, new Random(_seed + 2)));
            Close(reset: false);
        }

        private async Task PumpAsync(Socket from, Socket to, Direction direction, Random random)
        {
            int d = (int)direction;
            long resetAt = ResetDirection == direction ? ResetAtByte!.Value : long.MaxValue;
            var buffer = new byte[16 * 1024];
            try
            {
                while (true)
                {
                    int received = await from.ReceiveAsync(buffer.AsMemory(), SocketFlags.None);
                    if (received == 0)
                    {
                        // Forward the half-close: the other side can still send.
                        to.Shutdown(SocketShutdown.Send);
                        return;
                    }

                    for (int offset = 0; offset < received;)
                    {
                        int length = Math.Min(NextSliceLength(random), received - offset);
                        if (random.NextDouble() < _settings.DelayProbability)
                        {
                            _delays[d]++;
                            await Task.Delay(random.Next(1, (int)_settings.MaxDelay.TotalMilliseconds + 1));
                        }

                        long forwarded = _forwarded[d];
                        bool reset = forwarded + length >= resetAt;
                        if (reset)
                        {
                            // The reset point is inside (or at the end of) this piece: send up to it, then reset.
                            length = (int)(resetAt - forwarded);
                        }

                        await SendAllAsync(to, buffer.AsMemory(offset, length));
                        Interlocked.Add(ref _forwarded[d], length);
                        _slices[d]++;
                        offset += length;
                        if (reset)
                        {
                            _wasReset = true;
                            Close(reset: true);
                            return;
                        }
                    }
                }
            }
            catch (Exception ex)
            {
                // A pump whose sockets the other pump (or the dispose) closed stops here; anything else is the proxy's fault.
                if (Volatile.Read(ref _closed) == 0)
                {
                    Fault = ex;
                    Close(reset: true);
                }
            }
        }

        /// <summary>Mostly pieces of a few hundred bytes to a few KiB, with many of 1 to 8 bytes, so that headers and payloads
        /// are cut at every offset.</summary>
        private int NextSliceLength(Random random) => random.Next(4) switch
        {
            0 => random.Next(1, 9),
            1 => random.Next(9, 513),
            _ => random.Next(513, _settings.MaxSliceLength + 1),
        };

        private static async Task SendAllAsync(Socket socket, ReadOnlyMemory<byte> data)
        {
            while (!data.IsEmpty)
            {
                int sent = await socket.SendAsync(data, SocketFlags.None);
                data = data[sent..];
            }
        }

        private void Close(bool reset)
        {
            if (Interlocked.Exchange(ref _closed, 1) != 0)
            {
                return;
            }

            foreach (Socket socket in new[] { _client, _server })
            {
                if (reset)
                {
                    Loopback.Reset(socket);
                }
                else
                {
                    socket.Dispose();
                }
            }
        }
    }
}
