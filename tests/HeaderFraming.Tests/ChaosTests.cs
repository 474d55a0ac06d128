using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using HeaderFraming.Codecs;
using HeaderFraming.Testing;
using HeaderFraming.Tests.Infrastructure;
using Xunit.Abstractions;

namespace HeaderFraming.Tests;

/// <summary>
/// <see cref="FramedConnection"/> over a bad network: many loopback connections through a <see cref="ChaosProxy"/> that
/// re-slices the byte stream at random points, delays pieces, and resets some connections part-way.
/// </summary>
/// <remarks>
/// <para>The run: 60 connections, both ends <c>FramedConnection.Create(socket, BinaryLengthCodec.UInt32BigEndian, ...)</c>
/// with per-connection options drawn from the seed (send and receive bounds, segment size, zero-byte reads on or off). Each
/// end sends from 2 or 3 concurrent writers sharing the connection, 80 to 240 checksummed frames each, while it reads the
/// other direction: sizes from 0 to 192 KiB, every writer sending at least one empty frame and one above 64 KiB (and above
/// the default 128 KiB receive bound, now and then). About 30% of the connections are reset by the proxy at a random byte
/// of one direction; the others run to completion (<see cref="FramedConnection.CompleteSendingAsync"/>, read to the end).
/// About 155 MiB of payload cross the proxy in some 150,000 pieces of 1 byte to 4 KiB (2% of them delayed by up to 5 ms);
/// the run takes 3 to 5 s on 2 cores.</para>
/// <para>What must hold, on every connection and direction: what arrives of each writer is exactly a prefix of what it
/// sent, whole, in order, nothing repeated, checksums valid, each frame its planned length (checked frame by frame as it
/// arrives). Where the proxy reset nothing, everything arrives and both ends see a clean end. Where it reset, each reader
/// ends with an <see cref="IOException"/> (<see cref="ConnectionShutdownReason.Reset"/>) or a
/// <see cref="FrameTruncatedException"/>, or with a clean end after every frame of the peer; senders end with success or an
/// <see cref="IOException"/>. Every end's <see cref="FramedConnection.Closed"/> fires with a reason, and every connection
/// ends within 60 s: a hang fails the test with what each end was waiting for.</para>
/// <para>The seed is random and printed; <c>HEADERFRAMING_CHAOS_SEED=n</c> replays one (the slices, delays, reset points
/// in bytes and the frames are the same; the thread timing is not).</para>
/// </remarks>
[Collection(nameof(LoadTests))]
public sealed class ChaosTests(ITestOutputHelper output)
{
    private const int Connections = 60;
    private const int MaxPayloadLength = 192 * 1024;

    /// <summary>Hang detection: a connection takes a few seconds here.</summary>
    private static readonly TimeSpan s_connectionLimit = TimeSpan.FromSeconds(60);

    /// <summary>DisposeAsync by design: at most 5 s to drain, 2 s for the loops.</summary>
    private static readonly TimeSpan s_disposeLimit = TimeSpan.FromSeconds(15);

    private static readonly long[] s_sendBounds = [16 * 1024, 64 * 1024, 256 * 1024, FramedConnectionOptions.DefaultMaxBufferedSendBytes];
    private static readonly long[] s_receiveBounds = [4 * 1024, 32 * 1024, FramedConnectionOptions.DefaultMaxBufferedReceiveBytes];
    private static readonly int[] s_segmentSizes = [4 * 1024, 16 * 1024, FramedConnectionOptions.DefaultSegmentSize];

    [Fact]
    public async Task ThroughAProxyThatReslicesDelaysAndResetsEveryWriterDeliversAnExactPrefixAndNoConnectionHangs()
    {
        string? fromEnvironment = Environment.GetEnvironmentVariable("HEADERFRAMING_CHAOS_SEED");
        int seed = string.IsNullOrEmpty(fromEnvironment) ? Random.Shared.Next() : int.Parse(fromEnvironment, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
        output.WriteLine($"chaos seed {seed} (replay: HEADERFRAMING_CHAOS_SEED={seed})");

        var clock = Stopwatch.StartNew();
        ConnectionRun[] runs = Enumerable.Range(0, Connections).Select(i => new ConnectionRun(seed, i)).ToArray();
        long meanDirectionBytes = runs.Sum(r => r.Client.PlannedBytes + r.Server.PlannedBytes) / (2 * Connections);
        var settings = new ChaosProxy.Settings { Seed = seed, ResetWithinBytes = meanDirectionBytes };

        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start(Connections);
        var proxy = new ChaosProxy((IPEndPoint)listener.LocalEndpoint, settings);
        string? harnessFailure = null;
        try
        {
            // One at a time, so that the proxy's accept order (which its random choices follow) is the connection index.
            foreach (ConnectionRun run in runs)
            {
                await run.ConnectAsync(proxy, listener);
            }

            await Task.WhenAll(runs.Select(r => r.RunAsync())).WaitAsync(s_connectionLimit + (2 * s_disposeLimit));
        }
        catch (Exception ex)
        {
            harnessFailure = ex.ToString();
        }

        clock.Stop();
        try
        {
            await proxy.DisposeAsync();
        }
        catch (Exception ex)
        {
            // Reported after the connections' failures, which say more.
            harnessFailure ??= "disposing the proxy: " + ex;
        }

        string[] failures = runs.Where(r => r.Failure != null).Select(r => r.Failure!).ToArray();
        Assert.True(failures.Length == 0, $"chaos seed {seed} (replay: HEADERFRAMING_CHAOS_SEED={seed}): {failures.Length} of {Connections} connections failed:\n\n" + string.Join("\n\n", failures.Take(5)));
        Assert.True(harnessFailure == null, $"chaos seed {seed} (replay: HEADERFRAMING_CHAOS_SEED={seed}): the harness failed: {harnessFailure}");

        int reset = runs.Count(r => r.Link!.WasReset);
        ChaosEnd[] ends = runs.SelectMany(r => new[] { r.Client, r.Server }).ToArray();
        output.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"{Connections} connections, {reset} reset by the proxy ({runs.Count(r => r.Link!.ResetAtByte != null)} planned, within the first {meanDirectionBytes:N0} B of a direction); ")
            + string.Create(CultureInfo.InvariantCulture, $"{ends.Sum(e => e.Receiver.Frames):N0} frames ({ends.Sum(e => e.Receiver.EmptyFrames):N0} empty) and {ends.Sum(e => e.Receiver.PayloadBytes) / 1048576.0:N1} MiB of payload received ")
            + string.Create(CultureInfo.InvariantCulture, $"in {runs.Sum(r => r.Link!.Slices(ChaosProxy.Direction.ClientToServer) + r.Link!.Slices(ChaosProxy.Direction.ServerToClient)):N0} proxy pieces ({runs.Sum(r => r.Link!.Delays(ChaosProxy.Direction.ClientToServer) + r.Link!.Delays(ChaosProxy.Direction.ServerToClient)):N0} delayed); ")
            + string.Create(CultureInfo.InvariantCulture, $"readers ended: {ends.Count(e => e.ReadToEnd)} clean, {ends.Count(e => e.ReadEnd is FrameTruncatedException)} truncated frame, {ends.Count(e => e.ReadEnd is IOException and not FrameTruncatedException)} IOException; ")
            + string.Create(CultureInfo.InvariantCulture, $"{ends.Sum(e => e.WriterFaults.Count(f => f != null))} writers ended with an IOException; {clock.Elapsed.TotalSeconds:N1} s"));

        // The harness itself: the proxy did reset some connections and left others alone.
        Assert.InRange(reset, 1, Connections - 1);
    }

    /// <summary>One connection through the proxy: its plan, both ends, the proxy's link, and the checks once it ended.</summary>
    private sealed class ConnectionRun
    {
        private readonly int _index;

        public ConnectionRun(int seed, int index)
        {
            _index = index;
            var random = new Random(unchecked((seed * 31) + index));
            Client = new ChaosEnd("client", Options(random), Plan(random), random.Next());
            Server = new ChaosEnd("server", Options(random), Plan(random), random.Next());
            Client.Peer = Server;
            Server.Peer = Client;
        }

        public ChaosEnd Client { get; }

        public ChaosEnd Server { get; }

        public ChaosProxy.Link? Link { get; private set; }

        /// <summary>Why this connection failed the test (with its whole story), or <see langword="null"/>.</summary>
        public string? Failure { get; private set; }

        public async Task ConnectAsync(ChaosProxy proxy, TcpListener listener)
        {
            (Socket client, Socket server) = await Loopback.ConnectedPairAsync(listener, proxy.EndPoint).WaitAsync(s_connectionLimit);
            Link = proxy.LinkOf(client.LocalEndPoint!);
            Assert.Equal(_index, Link.Index);
            Client.Open(client);
            Server.Open(server);
        }

        public async Task RunAsync()
        {
            using var abort = new CancellationTokenSource(s_connectionLimit);
            var clock = Stopwatch.StartNew();
            try
            {
                await Task.WhenAll(Client.RunAsync(abort), Server.RunAsync(abort));
                await Link!.Completion.WaitAsync(abort.Token);
                await CheckAsync(Client, abort.Token);
                await CheckAsync(Server, abort.Token);
            }
            catch (Exception ex)
            {
                string cause = Client.Errors.Concat(Server.Errors).FirstOrDefault()
                    ?? (abort.IsCancellationRequested && clock.Elapsed >= s_connectionLimit ? $"HUNG: not finished after {s_connectionLimit.TotalSeconds:N0} s" : ex.ToString());
                Failure = $"connection {_index}: {cause}\n  {Link}\n  {Client.Describe()}\n  {Server.Describe()}";
            }
            finally
            {
                await DisposeAsync(Client);
                await DisposeAsync(Server);
            }
        }

        private async Task CheckAsync(ChaosEnd end, CancellationToken cancellationToken)
        {
            ChaosEnd peer = end.Peer!;
            string direction = $"{peer.Name}-to-{end.Name}";

            // Never more than was sent (the order, the checksums and the lengths were checked frame by frame).
            end.Receiver.AssertReceivedNoMoreThan(peer.Attempted, peer.AttemptedEmpty);
            ConnectionShutdownReason reason = end.Connection.ShutdownReason;
            if (!Link!.WasReset)
            {
                Assert.True(Link.Fault == null, $"the proxy failed: {Link.Fault}");
                Assert.True(end.ReadToEnd, $"{direction}: the proxy reset nothing, yet the reader ended with {end.ReadEnd}");
                end.Receiver.AssertReceivedEverything(peer.PlannedPerWriter, peer.PlannedEmpty);
                if (end.WriterFaults.FirstOrDefault(f => f != null) is Exception writerFault)
                {
                    Assert.Fail($"{end.Name}: the proxy reset nothing, yet a writer failed: {writerFault}");
                }

                Assert.True(end.CompleteFault == null, $"{end.Name}: the proxy reset nothing, yet CompleteSendingAsync failed: {end.CompleteFault}");
                Assert.True(reason == ConnectionShutdownReason.PeerClosed, $"{end.Name}: ShutdownReason is {reason} after a clean end");
            }
            else if (end.ReadToEnd)
            {
                // A clean end is a FIN, which the proxy forwards only after the whole direction: everything arrived.
                end.Receiver.AssertReceivedEverything(peer.PlannedPerWriter, peer.PlannedEmpty);
                Assert.True(reason is ConnectionShutdownReason.PeerClosed or ConnectionShutdownReason.Reset, $"{end.Name}: ShutdownReason is {reason} after a clean end and a reset");
            }
            else
            {
                Assert.True(end.ReadEnd is IOException, $"{direction}: the reader neither ended cleanly nor with an IOException");
                Assert.True(reason == ConnectionShutdownReason.Reset, $"{end.Name}: ShutdownReason is {reason} after the reader's {end.ReadEnd!.GetType().Name} on a reset connection: {end.ReadEnd.Message}");
            }

            await WhenFired(end.Connection.Closed).WaitAsync(cancellationToken);
        }

        private async Task DisposeAsync(ChaosEnd end)
        {
            if (end.Connection == null)
            {
                return;
            }

            try
            {
                await end.Connection.DisposeAsync().AsTask().WaitAsync(s_disposeLimit);
                Assert.True(end.Socket!.SafeHandle.IsClosed, "DisposeAsync left the socket open");
            }
            catch (Exception ex)
            {
                Failure ??= $"connection {_index}: {end.Name}: DisposeAsync: {ex}\n  {Link}\n  {Client.Describe()}\n  {Server.Describe()}";
            }
        }

        private static FramedConnectionOptions Options(Random random)
        {
            var options = new FramedConnectionOptions
            {
                MaxBufferedSendBytes = s_sendBounds[random.Next(s_sendBounds.Length)],
                MaxBufferedReceiveBytes = s_receiveBounds[random.Next(s_receiveBounds.Length)],
                SegmentSize = s_segmentSizes[random.Next(s_segmentSizes.Length)],
                WaitForDataBeforeAllocatingBuffer = random.Next(4) != 0,
            };
            options.Reader.MaxFrameLength = MaxPayloadLength;
            return options;
        }

        /// <summary>Each writer's payload lengths in send order: 80 to 240 frames, at least one empty and one above 64 KiB.</summary>
        private static int[][] Plan(Random random)
        {
            var writers = new int[2 + random.Next(2)][];
            for (int w = 0; w < writers.Length; w++)
            {
                int[] lengths = new int[random.Next(80, 241)];
                for (int i = 0; i < lengths.Length; i++)
                {
                    lengths[i] = random.Next(1000) switch
                    {
                        < 20 => 0,
                        < 80 => random.Next(1, Checksummed.Overhead),
                        < 700 => random.Next(Checksummed.Overhead, 257),
                        < 950 => random.Next(257, 4097),
                        < 990 => random.Next(4097, 65537),
                        _ => random.Next(65537, MaxPayloadLength + 1),
                    };
                }

                lengths[random.Next(lengths.Length)] = 0;
                lengths[random.Next(lengths.Length)] = random.Next(65537, MaxPayloadLength + 1);
                writers[w] = lengths;
            }

            return writers;
        }

        private static Task WhenFired(CancellationToken token)
        {
            var fired = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            token.UnsafeRegister(static s => ((TaskCompletionSource)s!).TrySetResult(), fired);
            return fired.Task;
        }
    }

    /// <summary>One end of a connection: its writers' plan, what they attempted and how they ended, and the checked reader.</summary>
    private sealed class ChaosEnd
    {
        private readonly int[][] _plan;
        private readonly int[][] _nonEmptyLengths;
        private readonly int _seed;
        private readonly int[] _framesStarted;
        private readonly ConcurrentQueue<string> _errors = new();
        private readonly FramedConnectionOptions _options;
        private long _attemptedEmpty;
        private volatile string _readerState = "not started";
        private volatile string _completeState = "not called";

        public ChaosEnd(string name, FramedConnectionOptions options, int[][] plan, int seed)
        {
            Name = name;
            _options = options;
            _plan = plan;
            _seed = seed;
            _nonEmptyLengths = plan.Select(p => p.Where(l => l > 0).ToArray()).ToArray();
            PlannedPerWriter = _nonEmptyLengths.Select(l => l.Length).ToArray();
            PlannedEmpty = plan.Sum(p => p.Count(l => l == 0));
            PlannedBytes = plan.Sum(p => p.Sum(l => 4L + l));
            Attempted = new int[plan.Length];
            WriterFaults = new Exception?[plan.Length];
            _framesStarted = new int[plan.Length];
            Receiver = null!;
        }

        public string Name { get; }

        public ChaosEnd? Peer { get; set; }

        public Socket? Socket { get; private set; }

        public FramedConnection Connection { get; private set; } = null!;

        public ChecksummedReceiver Receiver { get; private set; }

        public int[] PlannedPerWriter { get; }

        public int PlannedEmpty { get; }

        /// <summary>Bytes on the wire if every frame goes out (4-byte headers included).</summary>
        public long PlannedBytes { get; }

        /// <summary>Non-empty frames each writer passed to SendAsync (the last may have failed).</summary>
        public int[] Attempted { get; }

        public long AttemptedEmpty => Interlocked.Read(ref _attemptedEmpty);

        /// <summary>The IOException that stopped each writer, or <see langword="null"/> if it sent its whole plan.</summary>
        public Exception?[] WriterFaults { get; }

        public Exception? CompleteFault { get; private set; }

        public bool ReadToEnd { get; private set; }

        /// <summary>The IOException (or FrameTruncatedException) that ended reading, if it did not end cleanly.</summary>
        public Exception? ReadEnd { get; private set; }

        /// <summary>Unexpected failures (wrong exception types, damaged frames), first first.</summary>
        public IEnumerable<string> Errors => _errors;

        public void Open(Socket socket)
        {
            Socket = socket;
            Connection = FramedConnection.Create(socket, BinaryLengthCodec.UInt32BigEndian, _options);
            Receiver = new ChecksummedReceiver(Peer!._plan.Length, MaxPayloadLength);
        }

        public async Task RunAsync(CancellationTokenSource abort)
        {
            Task reader = Task.Run(() => GuardAsync("reader", () => ReadAllAsync(abort.Token), abort));
            Task[] writers = Enumerable.Range(0, _plan.Length)
                .Select(w => Task.Run(() => GuardAsync($"writer {w}", () => WriteAsync(w, abort.Token), abort)))
                .ToArray();
            await Task.WhenAll(writers);
            await GuardAsync("CompleteSendingAsync", async () =>
            {
                _completeState = "waiting";
                try
                {
                    await Connection.CompleteSendingAsync(abort.Token).WaitAsync(abort.Token);
                    _completeState = "done";
                }
                catch (IOException ex)
                {
                    CompleteFault = ex;
                    _completeState = "IOException";
                }
            }, abort);
            await reader;
        }

        public string Describe()
        {
            string writers = string.Join(", ", _plan.Select((p, w) => $"{Volatile.Read(ref _framesStarted[w])}/{p.Length}{(WriterFaults[w] is Exception f ? " (" + f.GetType().Name + ": " + f.Message + ")" : "")}"));
            return string.Create(
                CultureInfo.InvariantCulture,
                $"{Name}: writers at frame {writers}; CompleteSendingAsync {_completeState}; reader {_readerState} after {Receiver?.Frames:N0} frames; ShutdownReason {Connection?.ShutdownReason}, Closed {(Connection?.Closed.IsCancellationRequested == true ? "fired" : "not fired")}; sent {Connection?.FramesSent:N0} frames, {Connection?.BytesSent:N0} B, {Connection?.BufferedSendBytes:N0} B buffered, {Connection?.QueuedSends} sends queued; received {Connection?.BytesReceived:N0} B");
        }

        /// <summary>Runs one task of the end; an unexpected exception is recorded and stops the whole connection at once.</summary>
        private async Task GuardAsync(string what, Func<Task> body, CancellationTokenSource abort)
        {
            try
            {
                await body();
            }
            catch (Exception ex)
            {
                // Once aborted, the other tasks' cancellations are consequences, not causes.
                if (!(abort.IsCancellationRequested && ex is OperationCanceledException))
                {
                    _errors.Enqueue($"{Name} {what}: {ex}");
                }

                await abort.CancelAsync();
                throw;
            }
        }

        private async Task WriteAsync(int writer, CancellationToken cancellationToken)
        {
            int[] lengths = _plan[writer];
            byte[] buffer = new byte[lengths.Max()];
            var random = new Random(unchecked(_seed + writer));
            int sequence = 0;
            for (int i = 0; i < lengths.Length; i++)
            {
                int length = lengths[i];
                Checksummed.Fill(buffer.AsSpan(0, length), writer, sequence, random);
                if (length == 0)
                {
                    Interlocked.Increment(ref _attemptedEmpty);
                }
                else
                {
                    Attempted[writer] = sequence + 1;
                }

                Volatile.Write(ref _framesStarted[writer], i + 1);
                try
                {
                    // The payload is copied into the connection before the send completes; the buffer is reused after it.
                    await Connection.SendAsync(buffer.AsMemory(0, length), cancellationToken).AsTask().WaitAsync(cancellationToken);
                }
                catch (IOException ex)
                {
                    WriterFaults[writer] = ex;
                    return;
                }

                if (length != 0)
                {
                    sequence++;
                }
            }
        }

        private async Task ReadAllAsync(CancellationToken cancellationToken)
        {
            int[][] expected = Peer!._nonEmptyLengths;
            while (true)
            {
                FrameReadResult result;
                _readerState = "waiting";
                try
                {
                    result = await Connection.ReadFrameAsync(cancellationToken).AsTask().WaitAsync(cancellationToken);
                }
                catch (IOException ex) when (ex is FrameTruncatedException || ex is not FrameException)
                {
                    ReadEnd = ex;
                    _readerState = "ended with " + ex.GetType().Name;
                    return;
                }

                if (result.IsCompleted)
                {
                    ReadToEnd = true;
                    _readerState = "ended cleanly";
                    return;
                }

                _readerState = "checking";
                Assert.True(result.HasFrame, "a read returned neither a frame nor the end of the stream");
                long length = result.Frame.Payload.Length;
                (int writer, int sequence) = Receiver.Accept(result.Frame.Payload);
                if (writer >= 0)
                {
                    if (sequence >= expected[writer].Length)
                    {
                        Assert.Fail($"frame {Receiver.Frames}: writer {writer}'s sequence {sequence} is beyond the {expected[writer].Length} non-empty frames it plans to send");
                    }

                    if (length != expected[writer][sequence])
                    {
                        Assert.Fail($"frame {Receiver.Frames}: writer {writer}'s frame {sequence} is {length} bytes; it sent {expected[writer][sequence]}");
                    }
                }
            }
        }
    }
}
