using System.Buffers;
using System.IO.Pipelines;
using HeaderFraming.Transports;
using HeaderFraming.Transports.IO;

namespace HeaderFraming.Tests.Connections;

/// <summary>
/// A detach must leave no receive pending that could take the bytes meant for the transport's next owner. A cancelled socket
/// receive has been seen (in CI, then in a stress run on this machine) to stay pending after its token was cancelled and take
/// the bytes the peer sent after the detach, so the receive loop may only receive where a receive completes at once. The
/// transport here behaves as that socket did: its receives ignore their token.
/// </summary>
public sealed class StopWithoutPendingReceiveTests
{
    private static readonly TimeSpan s_limit = TimeSpan.FromSeconds(20);

    public enum Wake
    {
        /// <summary>The zero-byte wait completes once with nothing to read (a stale readiness event).</summary>
        WithNothingToRead,

        /// <summary>No zero-byte wait configured: the loop would go straight to a receive.</summary>
        NoWaitConfigured,
    }

    [Theory]
    [InlineData(Wake.WithNothingToRead)]
    [InlineData(Wake.NoWaitConfigured)]
    public async Task AStoppedReceiveLoopLeavesTheBytesSentAfterTheStopToTheTransport(Wake wake)
    {
        var io = new SocketLikeIO();
        var options = new FramedConnectionOptions { WaitForDataBeforeAllocatingBuffer = wake != Wake.NoWaitConfigured };
        var pipe = new TransportPipe(io, options, directOutput: null, leaveOpen: true, new ConnectionLifetime(), coalescingBytes: 0);
        pipe.Start();

        await io.UntilIdleAsync(1).WaitAsync(s_limit);
        io.Feed("hello"u8.ToArray());
        ReadResult first = await pipe.Input.ReadAtLeastAsync(5).AsTask().WaitAsync(s_limit);
        Assert.Equal("hello"u8.ToArray(), first.Buffer.ToArray());
        pipe.Input.AdvanceTo(first.Buffer.End);

        // Wait until the loop is idle again (its second time): waiting for data, or (the old way) in a receive with
        // nothing to read.
        await io.UntilIdleAsync(2).WaitAsync(s_limit);
        if (wake == Wake.WithNothingToRead)
        {
            io.WakeWithNothingToRead();
            await io.UntilIdleAsync(3).WaitAsync(s_limit);
        }

        pipe.BeginDetach();
        await pipe.StopForDetachAsync().WaitAsync(s_limit);

        io.Feed("later"u8.ToArray()); // the next owner's bytes
        await pipe.ReceiveLoop.WaitAsync(s_limit);
        Assert.Equal(0, io.ReceivesWithNothingToRead);
        Assert.Equal("later"u8.ToArray(), io.Queued());
    }

    /// <summary>A socket as the receive loop sees it: readiness known, zero-byte waits that take nothing, and receives that
    /// ignore cancellation (the lost cancellation) and wait for bytes when there are none.</summary>
    private sealed class SocketLikeIO : TransportIO
    {
        private readonly object _lock = new();
        private readonly Queue<byte> _queued = new();
        private TaskCompletionSource<int>? _wait;
        private (Memory<byte> Buffer, TaskCompletionSource<int> Done)? _receive;
        private int _idleCount;

        public int ReceivesWithNothingToRead { get; private set; }

        /// <summary>Completes once the loop has been idle (waiting for data, or in a receive with nothing to read)
        /// <paramref name="times"/> times.</summary>
        public async Task UntilIdleAsync(int times)
        {
            while (Volatile.Read(ref _idleCount) < times)
            {
                await Task.Delay(1);
            }
        }

        public override bool CanWaitForData => true;

        public override bool ZeroByteWaitsCanBeAbandoned => true;

        public override bool KnowsReadiness => true;

        public override object Wrapped => this;

        public override bool IsReadable(out int available)
        {
            lock (_lock)
            {
                available = _queued.Count;
                return available > 0;
            }
        }

        public override ValueTask<int> WaitForDataAsync(CancellationToken cancellationToken)
        {
            lock (_lock)
            {
                if (_queued.Count > 0)
                {
                    return new ValueTask<int>(0);
                }

                _wait = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
                SignalIdle();
                return new ValueTask<int>(_wait.Task);
            }
        }

        public override ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken)
        {
            lock (_lock)
            {
                if (_queued.Count > 0)
                {
                    return new ValueTask<int>(Take(buffer.Span));
                }

                ReceivesWithNothingToRead++;
                var done = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
                _receive = (buffer, done);
                SignalIdle();
                return new ValueTask<int>(done.Task);
            }
        }

        public void Feed(byte[] bytes)
        {
            TaskCompletionSource<int>? wait;
            (TaskCompletionSource<int> Done, int Taken)? receive = null;
            lock (_lock)
            {
                foreach (byte b in bytes)
                {
                    _queued.Enqueue(b);
                }

                wait = _wait;
                _wait = null;
                if (_receive is { } pending)
                {
                    _receive = null;
                    receive = (pending.Done, Take(pending.Buffer.Span));
                }
            }

            wait?.SetResult(0);
            if (receive is { } r)
            {
                r.Done.SetResult(r.Taken);
            }
        }

        public void WakeWithNothingToRead()
        {
            TaskCompletionSource<int>? wait;
            lock (_lock)
            {
                wait = _wait;
                _wait = null;
            }

            Assert.NotNull(wait);
            wait.SetResult(0);
        }

        public byte[] Queued()
        {
            lock (_lock)
            {
                return _queued.ToArray();
            }
        }

        public override ValueTask SendAsync(ReadOnlySequence<byte> buffer, CancellationToken cancellationToken) => default;

        public override ValueTask ShutdownSendAsync() => default;

        public override void Close()
        {
        }

        private int Take(Span<byte> buffer)
        {
            int n = Math.Min(buffer.Length, _queued.Count);
            for (int i = 0; i < n; i++)
            {
                buffer[i] = _queued.Dequeue();
            }

            return n;
        }

        private void SignalIdle() => Interlocked.Increment(ref _idleCount);
    }
}
