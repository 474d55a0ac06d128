using System.Buffers;
using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using HeaderFraming.Codecs;
using HeaderFraming.Testing;
using HeaderFraming.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace HeaderFraming.Tests;

/// <summary>
/// Faults seen through <see cref="FramedConnection"/>: a peer that goes away while we write, a stream that throws, a
/// connection disposed under pending reads and sends, a slowloris in the payload. Every case must end with frames delivered
/// up to the fault and a typed error, never a hang, and must release the socket or stream.
/// </summary>
public class ConnectionFaultTests
{
    /// <summary>Hang detection: every wait is bounded, so a bug fails instead of hanging.</summary>
    private static readonly TimeSpan s_limit = TimeSpan.FromSeconds(30);

    /// <summary>What DisposeAsync may take at most by design: 5 s to drain to a peer that does not read, 2 s for the loops.</summary>
    private static readonly TimeSpan s_disposeBound = TimeSpan.FromSeconds(7 + 5);

    [Theory]
    [InlineData("close")]
    [InlineData("reset")]
    public async Task APeerGoingAwayWhileWeWriteFailsEverySenderWithAnIOException(string how)
    {
        (Socket client, Socket server) = await Loopback.ConnectedPairAsync();
        FramedConnection connection = FramedConnection.Create(client, BinaryLengthCodec.UInt32BigEndian, new FramedConnectionOptions { MaxBufferedSendBytes = 64 * 1024 });
        int sent = 0;
        Task<Exception>[] writers = Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
        {
            var random = new Random(w);
            try
            {
                for (int i = 0; ; i++)
                {
                    await connection.SendAsync(Checksummed.Create(w, i, random.Next(0, 4000), random)).AsTask().WaitAsync(s_limit);
                    Interlocked.Increment(ref sent);
                }
            }
            catch (Exception ex)
            {
                return ex;
            }
        })).ToArray();

        // The peer reads a little, so that frames are in flight in both kernels and in our buffers, then goes away.
        var sink = new byte[64 * 1024];
        int received = 0;
        while (received < 256 * 1024)
        {
            received += await server.ReceiveAsync(sink.AsMemory()).AsTask().WaitAsync(s_limit);
        }

        if (how == "reset")
        {
            Loopback.Reset(server);
        }
        else
        {
            server.Close();
        }

        Exception[] faults = await Task.WhenAll(writers).WaitAsync(s_limit);
        Assert.All(faults, ex => Assert.IsType<IOException>(ex));
        Assert.All(faults, ex => Assert.Contains("can no longer send", ex.Message, StringComparison.Ordinal));
        Assert.True(sent > 0);

        // A later send fails the same way at once, and disposing does not wait for the dead peer.
        await Assert.ThrowsAsync<IOException>(async () => await connection.SendAsync(new byte[10]).AsTask().WaitAsync(s_limit));
        var disposing = Stopwatch.StartNew();
        await connection.DisposeAsync().AsTask().WaitAsync(s_limit);
        Assert.True(disposing.Elapsed < s_disposeBound, $"DisposeAsync took {disposing.Elapsed}");
        Assert.True(client.SafeHandle.IsClosed, "the socket was not closed");
    }

    public static TheoryData<string, bool> ReadFaults => new()
    {
        { "io", false },
        { "io", true },
        { "socket", false },
        { "other", false },
        { "other", true },
    };

    [Theory]
    [MemberData(nameof(ReadFaults))]
    public async Task AStreamThrowingFromReadAsyncBetweenFramesDeliversEarlierFramesThenAnIOException(string kind, bool synchronously)
    {
        Exception fault = kind switch
        {
            "io" => new IOException("the disk fell off"),
            "socket" => new IOException("reset", new SocketException((int)SocketError.ConnectionReset)),
            _ => new InvalidOperationException("a bug in the stream"),
        };
        byte[] input = FrameTestKit.Encode(AsciiDecimalCodec.Default, [FrameTestKit.Ascii("one"), FrameTestKit.Ascii("two"), new byte[100]]);
        var stream = new TrickleStream(input, bytesPerRead: 7) { ReadException = fault, ThrowsSynchronously = synchronously };
        FramedConnection connection = FramedConnection.Create(stream, AsciiDecimalCodec.Default);
        await using (connection)
        {
            Assert.Equal("one", await ReadTextAsync(connection));
            Assert.Equal("two", await ReadTextAsync(connection));
            Assert.Equal(100, (await connection.ReadFrameAsync().AsTask().WaitAsync(s_limit)).Frame.Payload.Length);

            IOException ex = await Assert.ThrowsAsync<IOException>(async () => await connection.ReadFrameAsync().AsTask().WaitAsync(s_limit));
            Assert.Same(fault, ex.InnerException);
            Assert.Contains(fault.Message, ex.Message, StringComparison.Ordinal);

            // The connection stays failed: the next read reports the same fault instead of waiting.
            IOException again = await Assert.ThrowsAsync<IOException>(async () => await connection.ReadFrameAsync().AsTask().WaitAsync(s_limit));
            Assert.Same(fault, again.InnerException);

            // Sending is independent of the failed receive side.
            await connection.SendAsync("still here"u8.ToArray()).AsTask().WaitAsync(s_limit);
            await connection.CompleteSendingAsync().WaitAsync(s_limit);
            Assert.Equal("10        still here", Encoding.ASCII.GetString(stream.Written));
        }

        Assert.True(stream.IsDisposed, "the stream was not disposed");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task AStreamThrowingFromReadAsyncInsideAFrameIsATruncationAfterEarlierFrames(bool synchronously)
    {
        byte[] whole = FrameTestKit.Encode(AsciiDecimalCodec.Default, [FrameTestKit.Ascii("complete"), new byte[100]]);
        var stream = new TrickleStream(whole.AsMemory(0, whole.Length - 30), bytesPerRead: 7) { ReadException = new IOException("the disk fell off"), ThrowsSynchronously = synchronously };
        await using (FramedConnection connection = FramedConnection.Create(stream, AsciiDecimalCodec.Default))
        {
            Assert.Equal("complete", await ReadTextAsync(connection));
            var ex = await Assert.ThrowsAsync<FrameTruncatedException>(async () => await connection.ReadFrameAsync().AsTask().WaitAsync(s_limit));
            Assert.Equal((80L, 110L, 18L), (ex.ReceivedBytes, ex.ExpectedBytes, ex.StreamOffset));
            Assert.Same(ex, await Assert.ThrowsAsync<FrameTruncatedException>(async () => await connection.ReadFrameAsync().AsTask().WaitAsync(s_limit)));
        }

        Assert.True(stream.IsDisposed, "the stream was not disposed");
    }

    /// <summary>Linux reports a reset to the first call only; when that is a send, the next receive sees a plain end of
    /// stream. Found by <c>ChaosTests</c>: a reader ended "cleanly" after 86 of some 300 frames of a reset connection.</summary>
    [Theory]
    [InlineData(ResetOnceStream.WriteOutcome.ResetBeforeTheReadEnds)]
    [InlineData(ResetOnceStream.WriteOutcome.ResetAfterTheReadEnds)]
    public async Task AResetThatASendSawFirstEndsReadingWithAnIOExceptionAfterEveryFrameNotWithACleanEnd(ResetOnceStream.WriteOutcome outcome)
    {
        byte[] input = FrameTestKit.Encode(AsciiDecimalCodec.Default, [FrameTestKit.Ascii("one"), FrameTestKit.Ascii("two")]);
        var stream = new ResetOnceStream(input, outcome);
        // The end of stream waits a second of the connection's clock for the send's outcome: a clock that never moves makes
        // it wait for the outcome however late the send's thread runs (50 ms after the read ends, on a quiet machine).
        var options = new FramedConnectionOptions();
        options.Reader.TimeProvider = new FakeTimeProvider();
        await using (FramedConnection connection = FramedConnection.Create(stream, AsciiDecimalCodec.Default, options))
        {
            await connection.SendAsync("takes the reset"u8.ToArray()).AsTask().WaitAsync(s_limit);
            Assert.Equal("one", await ReadTextAsync(connection));
            Assert.Equal("two", await ReadTextAsync(connection));

            IOException ex = await Assert.ThrowsAsync<IOException>(async () => await connection.ReadFrameAsync().AsTask().WaitAsync(s_limit));
            Assert.IsNotAssignableFrom<FrameException>(ex);
            Assert.Same(stream.Reset, ex.InnerException);
            Assert.Equal(ConnectionShutdownReason.Reset, connection.ShutdownReason);
            await Assert.ThrowsAsync<IOException>(async () => await connection.CompleteSendingAsync().WaitAsync(s_limit));
        }

        Assert.True(stream.IsDisposed, "the stream was not disposed");
    }

    [Fact]
    public async Task APeerThatClosesWhileASendIsBlockedEndsReadingCleanlyAfterASecondOfTheConnectionsClock()
    {
        byte[] input = FrameTestKit.Encode(AsciiDecimalCodec.Default, [FrameTestKit.Ascii("one")]);
        var stream = new ResetOnceStream(input, ResetOnceStream.WriteOutcome.BlockedByAPeerThatClosed);
        var time = new SignallingTimeProvider();
        var options = new FramedConnectionOptions();
        options.Reader.TimeProvider = time;
        await using (FramedConnection connection = FramedConnection.Create(stream, AsciiDecimalCodec.Default, options))
        {
            await connection.SendAsync("stuck"u8.ToArray()).AsTask().WaitAsync(s_limit);
            Assert.Equal("one", await ReadTextAsync(connection));

            // The end of stream waits 1 s of the connection's clock for the send in flight to say whether it took a reset;
            // it did not. Once that wait's timer exists, the read ends exactly when a whole second has passed on it.
            Task<FrameReadResult> read = connection.ReadFrameAsync().AsTask();
            await time.TimerCreated.WaitAsync(s_limit);
            time.Advance(TimeSpan.FromMilliseconds(999));
            await Task.Delay(50); // a wrong early end would complete the read on the pool
            Assert.False(read.IsCompleted, "the end of stream came before a second of the connection's clock");
            time.Advance(TimeSpan.FromMilliseconds(1));
            FrameReadResult end = await read.WaitAsync(s_limit);
            Assert.True(end.IsCompleted, "expected the end of the stream");
            Assert.Equal(ConnectionShutdownReason.PeerClosed, connection.ShutdownReason);

            stream.ReleaseWrite();
            await connection.CompleteSendingAsync().WaitAsync(s_limit);
        }
    }

    [Fact]
    public async Task AStreamThrowingFromWriteAsyncFailsSendsWithAnIOExceptionAndReadingGoesOn()
    {
        byte[] input = FrameTestKit.Encode(AsciiDecimalCodec.Default, [FrameTestKit.Ascii("incoming")]);
        var fault = new IOException("the write side broke");
        var stream = new TrickleStream(input) { ReadException = new EndOfStreamException("unused"), WriteException = fault };
        await using (FramedConnection connection = FramedConnection.Create(stream, AsciiDecimalCodec.Default))
        {
            // The sends are accepted into the connection's buffer until its send loop has met the fault, whenever the
            // scheduler runs it: bounded by time, not by a count of sends (1,000 small sends all fitted in the buffer before
            // the loop's first write on a loaded machine).
            var deadline = Stopwatch.StartNew();
            IOException ex = await Assert.ThrowsAsync<IOException>(async () =>
            {
                while (deadline.Elapsed < s_limit)
                {
                    await connection.SendAsync(new byte[100]).AsTask().WaitAsync(s_limit);
                    await Task.Delay(1);
                }
            });
            Assert.Same(fault, ex.InnerException);
            Assert.Equal("incoming", await ReadTextAsync(connection));
        }

        Assert.True(stream.IsDisposed, "the stream was not disposed");
    }

    [Fact]
    public async Task CompleteSendingReportsAFailureToSendFramesThatWereAlreadyAccepted()
    {
        // The stream fails every write: the send is accepted (buffered) at once, and the failure comes after it returned.
        // CompleteSendingAsync is the caller's last chance to learn that buffered frames never went out.
        var fault = new IOException("the write side broke");
        var stream = new TrickleStream(ReadOnlyMemory<byte>.Empty) { ReadException = new EndOfStreamException("unused"), WriteException = fault };
        await using FramedConnection connection = FramedConnection.Create(stream, AsciiDecimalCodec.Default);
        await connection.SendAsync("lost"u8.ToArray()).AsTask().WaitAsync(s_limit);
        IOException ex = await Assert.ThrowsAsync<IOException>(async () => await connection.CompleteSendingAsync().WaitAsync(s_limit));
        Assert.Same(fault, ex.InnerException);
        Assert.Empty(stream.Written);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task DisposingUnderAPendingReadAndManyBlockedSendsEndsThemAllPromptly(bool leaveOpen)
    {
        (Socket client, Socket server) = await Loopback.ConnectedPairAsync();
        using (server)
        {
            client.SendBufferSize = 16 * 1024;
            server.ReceiveBufferSize = 16 * 1024;
            FramedConnection connection = FramedConnection.Create(client, BinaryLengthCodec.UInt32BigEndian, new FramedConnectionOptions { MaxBufferedSendBytes = 64 * 1024 }, leaveOpen);

            // Nobody reads the server socket: the kernel buffers fill, then ours, then every sender waits.
            var waiting = new WaitingSenders(16);
            Task[] senders = Enumerable.Range(0, 16).Select(w => Task.Run(async () =>
            {
                while (true)
                {
                    await waiting.AwaitAsync(w, connection.SendAsync(new byte[8 * 1024]));
                }
            })).ToArray();
            Task<FrameReadResult> read = connection.ReadFrameAsync().AsTask();
            // Every sender inside a pending SendAsync, so that each must end with the IOException of a send that dispose cut
            // short (a send started after dispose gets the ObjectDisposedException of a send after dispose instead).
            Task[] pendingSends = await waiting.UntilAllWaitAsync(() => connection.BytesSent, s_limit);

            Assert.All(senders, s => Assert.False(s.IsCompleted, "a sender was not blocked"));
            Assert.False(read.IsCompleted);

            var disposing = Stopwatch.StartNew();
            await connection.DisposeAsync().AsTask().WaitAsync(s_limit);
            Assert.True(disposing.Elapsed < s_disposeBound, $"DisposeAsync took {disposing.Elapsed}");

            // Every pending operation has ended (with an exception: the connection is gone), none hangs.
            // The sends pending at dispose (taken as they were, not the senders' loops, which may have started another send
            // since) fail with the IOException of a send cut short; every sender's loop ends.
            await Task.WhenAny(Task.WhenAll(pendingSends), Task.Delay(s_limit));
            Assert.All(pendingSends, s => Assert.True(s.IsFaulted, $"a pending send ended {s.Status}"));
            Assert.All(pendingSends, s => Assert.IsAssignableFrom<IOException>(s.Exception!.InnerException));
            await Task.WhenAny(Task.WhenAll(senders), Task.Delay(s_limit));
            Assert.All(senders, s => Assert.True(s.IsFaulted, $"a sender's loop ended {s.Status}"));
            // The read that was waiting ends with ObjectDisposedException, and so do operations after dispose, at once.
            await Assert.ThrowsAsync<ObjectDisposedException>(() => read.WaitAsync(s_limit));
            await Assert.ThrowsAsync<ObjectDisposedException>(async () => await connection.SendAsync(new byte[1]).AsTask().WaitAsync(s_limit));
            await Assert.ThrowsAsync<ObjectDisposedException>(async () => await connection.ReadFrameAsync().AsTask().WaitAsync(s_limit));
            Assert.Throws<ObjectDisposedException>(() => connection.TryReadFrame(out Frame _));
            Assert.Equal(ConnectionShutdownReason.LocalClose, connection.ShutdownReason);
            Assert.True(connection.Closed.IsCancellationRequested || await WaitForAsync(connection.Closed), "Closed never fired");

            Assert.Equal(!leaveOpen, client.SafeHandle.IsClosed);
            if (leaveOpen)
            {
                // Still connected and usable (its send side is full, so prove it by receiving).
                await server.SendAsync("x"u8.ToArray());
                Assert.Equal(1, await client.ReceiveAsync(new byte[1].AsMemory()).AsTask().WaitAsync(s_limit));
                client.Dispose();
            }
            else
            {
                Assert.Throws<ObjectDisposedException>(() => client.Send(new byte[1]));
            }
        }
    }

    [Fact]
    public async Task DisposingAConnectionClosesItsSocketAndLeaveOpenKeepsIt()
    {
        (Socket client, Socket server) = await Loopback.ConnectedPairAsync();
        (Socket client2, Socket server2) = await Loopback.ConnectedPairAsync();
        using (server)
        using (server2)
        using (client2)
        {
            await FramedConnection.Create(client, AsciiDecimalCodec.Default).DisposeAsync().AsTask().WaitAsync(s_limit);
            await FramedConnection.Create(client2, AsciiDecimalCodec.Default, leaveOpen: true).DisposeAsync().AsTask().WaitAsync(s_limit);
            Assert.True(client.SafeHandle.IsClosed);
            Assert.Throws<ObjectDisposedException>(() => client.Send(new byte[1]));
            Assert.False(client2.SafeHandle.IsClosed);
            Assert.Equal(1, client2.Send(new byte[1]));

            // The peer of the closed one sees the end of the stream.
            Assert.Equal(0, await server.ReceiveAsync(new byte[1].AsMemory()).AsTask().WaitAsync(s_limit));
        }
    }

    [Fact]
    public async Task APeerTricklingAPayloadTimesOut()
    {
        (Socket client, Socket server) = await Loopback.ConnectedPairAsync();
        using (client)
        {
            var options = new FramedConnectionOptions();
            options.Reader.FrameTimeout = TimeSpan.FromMilliseconds(500);
            await using FramedConnection b = FramedConnection.Create(server, AsciiDecimalCodec.Default, options);
            using var stop = new CancellationTokenSource();

            // A complete first frame, then the whole header of a second at once and its payload a byte every 50 ms: the
            // payload would take 5 s, ten times the frame timeout.
            byte[] wire = FrameTestKit.Encode(AsciiDecimalCodec.Default, [FrameTestKit.Ascii("prompt"), new byte[100]]);
            await client.SendAsync(wire.AsMemory(0, 16 + 10));
            Task trickle = SlowPeer.TrickleAsync(client, wire.AsMemory(16 + 10), TimeSpan.FromMilliseconds(50), stop.Token);

            Assert.Equal("prompt", await ReadTextAsync(b));
            var ex = await Assert.ThrowsAsync<FrameTimeoutException>(async () => await b.ReadFrameAsync().AsTask().WaitAsync(s_limit));
            stop.Cancel();
            await trickle.WaitAsync(s_limit);
            Assert.False(ex.IsIdleTimeout);
            Assert.Equal(16, ex.StreamOffset);
            Assert.InRange(ex.ReceivedBytes, 10, 10 + 99);
            Assert.Contains("FrameReaderOptions.FrameTimeout", ex.Message, StringComparison.Ordinal);
            Assert.Contains("at stream offset 16 was not complete", ex.Message, StringComparison.Ordinal);

            // The reader is faulted: the next read reports the same timeout at once.
            Assert.Same(ex, await Assert.ThrowsAsync<FrameTimeoutException>(async () => await b.ReadFrameAsync().AsTask().WaitAsync(s_limit)));
        }
    }

    [Fact]
    public async Task APeerStoppingMidPayloadTimesOut()
    {
        (Socket client, Socket server) = await Loopback.ConnectedPairAsync();
        using (client)
        {
            var options = new FramedConnectionOptions();
            options.Reader.FrameTimeout = TimeSpan.FromMilliseconds(300);
            options.Reader.IdleTimeout = TimeSpan.FromSeconds(20);
            await using FramedConnection b = FramedConnection.Create(server, AsciiDecimalCodec.Default, options);

            // A complete frame, then a header and 40 of its 100 payload bytes, then nothing (the connection stays open).
            byte[] wire = FrameTestKit.Encode(AsciiDecimalCodec.Default, [FrameTestKit.Ascii("prompt"), new byte[100]]);
            await client.SendAsync(wire.AsMemory(0, 16 + 10 + 40));

            Assert.Equal("prompt", await ReadTextAsync(b));
            var ex = await Assert.ThrowsAsync<FrameTimeoutException>(async () => await b.ReadFrameAsync().AsTask().WaitAsync(s_limit));
            Assert.False(ex.IsIdleTimeout);
            Assert.Equal((16L, 50L), (ex.StreamOffset, ex.ReceivedBytes));
            Assert.Equal(options.Reader.FrameTimeout, ex.Timeout);
            Assert.Contains("50 bytes of it had arrived", ex.Message, StringComparison.Ordinal);
        }
    }

    /// <summary>A read pending when the connection is disposed, or made after, ends at once: with an exception, or as the end of
    /// the stream (what it does today: the disposed reader reports <see cref="FrameReadResult.IsCompleted"/>).</summary>
    private static async Task<bool> WaitForAsync(CancellationToken token)
    {
        var fired = new TaskCompletionSource();
        using (token.Register(() => fired.TrySetResult()))
        {
            return await Task.WhenAny(fired.Task, Task.Delay(s_limit)) == fired.Task;
        }
    }

    private static async Task<string> ReadTextAsync(FramedConnection connection)
    {
        FrameReadResult result = await connection.ReadFrameAsync().AsTask().WaitAsync(s_limit);
        Assert.True(result.HasFrame, "expected a frame");
        return Encoding.ASCII.GetString(result.Frame.Payload.ToArray());
    }

    /// <summary>A fake clock that says when a timer is first created on it, so that a test advances it only once the wait
    /// it means to end is armed.</summary>
    private sealed class SignallingTimeProvider : FakeTimeProvider
    {
        private readonly TaskCompletionSource _timerCreated = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task TimerCreated => _timerCreated.Task;

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            ITimer timer = base.CreateTimer(callback, state, dueTime, period);
            _timerCreated.TrySetResult();
            return timer;
        }
    }
}
