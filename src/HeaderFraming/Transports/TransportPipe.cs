using System;
using System.Buffers;
using System.IO.Pipelines;
using System.Threading;
using System.Threading.Tasks;
using HeaderFraming.Internal;
using HeaderFraming.Transports.IO;

namespace HeaderFraming.Transports;

/// <summary>
/// A transport as a duplex pipe of the connection's own: a receive loop moves bytes from the transport into the inbound
/// pipe, a send loop moves the outbound pipe to the transport (or, for an <see cref="IDuplexPipe"/> transport, the
/// connection writes the transport's own <see cref="PipeWriter"/>). Callers' tokens and timeouts only ever touch the pipes,
/// never a transport operation, so no read or write of a stream is abandoned half-way.
/// </summary>
/// <remarks>
/// <para><b>Idle connections hold no buffer.</b> The receive loop waits for data with a zero-byte read before it asks the
/// pipe for memory (Kestrel's <c>WaitForDataBeforeAllocatingBuffer</c>), where the transport honours one; consumed
/// segments go back to the pool, so between frames the inbound pipe holds no block. The send loop holds none either while
/// nothing waits to be sent.</para>
/// <para><b>Read sizing.</b> Reads start at <see cref="InitialReadSize"/> and double, up to
/// <see cref="FramedConnectionOptions.SegmentSize"/>, each time a read fills its buffer; they halve again when a read uses
/// less than a quarter of it. A busy connection reads 64 KiB at a time; a chatty one 4 KiB.</para>
/// <para><b>Faults lose nothing.</b> A failed receive ends the inbound pipe cleanly (its writer completes without the
/// exception, which a <see cref="Pipe"/> would throw at its reader before the buffered bytes), and the fault is kept in
/// <see cref="ReceiveFault"/> for the connection to report after the last complete frame.</para>
/// <para><b>A reset is reported once.</b> Linux hands a reset (ECONNRESET) to the first call on the socket only: when that
/// is a send, the next receive returns a plain end of stream. So an end of stream that comes after a send failed with a reset
/// (or while a send that may have taken it is in flight) is reported as that reset, not as the peer's close, which would
/// tell the application that the peer had sent everything.</para>
/// </remarks>
internal sealed class TransportPipe : IDuplexPipe
{
    /// <summary>The first read of a connection, and the smallest.</summary>
    public const int InitialReadSize = 4 * 1024;

    /// <summary>Space left in the last block that is still worth a read of its own.</summary>
    private const int MinimumUsefulRemainder = 2 * 1024;

    private static readonly TimeSpan s_loopExitWait = TimeSpan.FromSeconds(2);

    /// <summary>How long an end of stream waits for a send in flight to say whether it took a reset, on the connection's clock
    /// (<see cref="_time"/>). A send to a live peer can block for longer (a peer that closed its side and does not read); the
    /// end of stream is then the peer's close.</summary>
    private static readonly TimeSpan s_sendOutcomeWait = TimeSpan.FromSeconds(1);

    // The options of the last inbound and outbound pipe made over the default pool: a Pipe keeps its PipeOptions for life,
    // so connections with the same settings (all of them, with the default options) share two instead of holding a pair
    // each (144 bytes of every idle connection). PipeOptions is immutable; a race only makes one more. A custom pool is
    // never kept here, so that a static field does not keep it alive after its connections.
    private static PipeOptions? s_inboundOptions;
    private static PipeOptions? s_outboundOptions;

    private readonly TransportIO _io;
    private readonly bool _leaveOpen;
    private readonly ConnectionLifetime _lifetime;

    /// <summary>The clock of <see cref="s_sendOutcomeWait"/>: the connection's (<see cref="FrameReaderOptions.TimeProvider"/>).</summary>
    private readonly TimeProvider _time;
    private readonly bool _waitForData;
    private readonly int _maxReadSize;
    private readonly Pipe _inbound;
    private readonly PipeOptions? _outboundOptions;
    private readonly bool _writesDirectly;
    private readonly PipeWriter _output;
    private Pipe? _outbound;
    private CancellationTokenSource? _abort;
    private readonly bool _abandonsZeroByteWaits;

    // 1 while the receive loop waits in a zero-byte receive it may abandon: a dispose or a detach then does not wait for the
    // loop, which stops, having taken no bytes, whenever that receive completes.
    private int _parked;
    private long _bytesReceived;
    private long _bytesSent;
    private volatile bool _disposing;

    // Set by BeginDetach: the loops stop without closing, shutting down or faulting the transport.
    private volatile bool _detaching;

    /// <summary>1 while the send loop is inside a transport send, until its outcome (<see cref="SendFault"/>) is recorded.</summary>
    private int _sendInFlight;

    /// <summary>Set by the receive loop when an end of stream must wait for the outcome of the send in flight.</summary>
    private TaskCompletionSource<bool>? _sendOutcome;

    /// <summary>Creates the pipes; <see cref="Start"/> starts the loops.</summary>
    /// <param name="io">The transport.</param>
    /// <param name="options">Pool, sizes, backpressure.</param>
    /// <param name="directOutput">The transport's own writer (an <see cref="IDuplexPipe"/>), or <see langword="null"/> for
    /// an outbound pipe and a send loop.</param>
    /// <param name="leaveOpen">Leave the transport open on dispose.</param>
    /// <param name="lifetime">Where the end of the transport is recorded.</param>
    /// <param name="coalescingBytes">How many bytes senders may leave unflushed (the outbound pipe pauses that much
    /// earlier, so that bytes accepted and not yet sent stay within <see cref="FramedConnectionOptions.MaxBufferedSendBytes"/>
    /// plus one frame).</param>
    public TransportPipe(TransportIO io, FramedConnectionOptions options, PipeWriter? directOutput, bool leaveOpen, ConnectionLifetime lifetime, long coalescingBytes)
    {
        _io = io;
        _leaveOpen = leaveOpen;
        _lifetime = lifetime;
        _time = options.Reader.TimeProvider;

        // Pending operations must be cancellable: a transport left open is not closed on dispose, and any connection can be
        // detached (its transport handed back, open, with every byte received). A socket's zero-byte wait needs no token
        // (it takes no bytes, so it can be left pending: see _parked), so an idle socket connection makes its source only
        // when it first receives for real, and holds no registration while it waits (about 260 bytes of every idle one).
        _abandonsZeroByteWaits = io.ZeroByteWaitsCanBeAbandoned;
        _abort = _abandonsZeroByteWaits ? null : new CancellationTokenSource();
        _waitForData = options.WaitForDataBeforeAllocatingBuffer && io.CanWaitForData;
        MemoryPool<byte> pool = options.MemoryPool ?? BlockMemoryPool.Default;

        // A pool's largest block bounds a read: larger requests would make the pipe fall back to the shared ArrayPool.
        int largestBlock = pool.MaxBufferSize > 0 ? pool.MaxBufferSize : int.MaxValue;
        _maxReadSize = Math.Max(Math.Min(options.SegmentSize, largestBlock), Math.Min(InitialReadSize, largestBlock));

        // Inbound backpressure: stop reading when the application falls behind. A frame larger than that cannot deadlock:
        // FrameReader waits for a started frame with ReadAtLeastAsync(frame length), and a Pipe does not pause its writer
        // below the size its reader waits for.
        // The receive loop resumes on the thread pool (Kestrel resumes its transport on its I/O queues), not inline in the
        // application's AdvanceTo: inline, a paused loop would receive and copy on the application's thread, in series with
        // the parsing, instead of on the other core.
        long inboundPause = options.MaxBufferedReceiveBytes;
        _inbound = new Pipe(SharedPipeOptions(
            ref s_inboundOptions,
            pool,
            writerScheduler: PipeScheduler.ThreadPool,
            pauseWriterThreshold: inboundPause,
            resumeWriterThreshold: inboundPause / 2,
            minimumSegmentSize: Math.Min(InitialReadSize, largestBlock)));

        if (directOutput != null)
        {
            _output = directOutput;
            _writesDirectly = true;
        }
        else
        {
            // The outbound pipe and the send loop are made by the first send (or the end of sending): a connection that
            // has sent nothing holds neither (about 680 bytes of every idle server connection that only reads).
            long outboundPause = Math.Max(1, options.MaxBufferedSendBytes - coalescingBytes);
            _outboundOptions = SharedPipeOptions(
                ref s_outboundOptions,
                pool,
                writerScheduler: PipeScheduler.ThreadPool,
                pauseWriterThreshold: outboundPause,
                resumeWriterThreshold: Math.Max(1, outboundPause / 2),
                minimumSegmentSize: Math.Min(options.SegmentSize, largestBlock));
            _output = new OutboundWriter(this);
        }

        ReceiveLoop = Task.CompletedTask;
        SendLoop = Task.CompletedTask;
    }

    public PipeReader Input => _inbound.Reader;

    public PipeWriter Output => _output;

    public Task ReceiveLoop { get; private set; }

    /// <summary>Completes when the send loop has sent everything and shut the send side down (or failed).</summary>
    public Task SendLoop { get; private set; }

    /// <summary>Why receiving stopped early (a reset, a failed read), or <see langword="null"/> after a clean end.</summary>
    public Exception? ReceiveFault { get; private set; }

    /// <summary>Why the send loop stopped early, or <see langword="null"/>.</summary>
    public Exception? SendFault { get; private set; }

    /// <summary>Bytes received from the transport.</summary>
    public long BytesReceived => Interlocked.Read(ref _bytesReceived);

    /// <summary>Bytes handed to the transport (for an <see cref="IDuplexPipe"/>, counted by the connection's sender).</summary>
    public long BytesSent => Interlocked.Read(ref _bytesSent);

    /// <summary>Whether the connection writes the transport's own writer (no send loop).</summary>
    public bool WritesDirectly => _writesDirectly;

    /// <summary>What the connection wraps (a Stream, a Socket, an IDuplexPipe).</summary>
    public object Wrapped => _io.Wrapped;

    public void Start()
    {
#if NET
        // Each loop's own task: the loops begin by yielding to the thread pool, as Task.Run would, without the proxy task
        // Task.Run keeps per loop for the connection's life (72 bytes each).
        ReceiveLoop = RunReceiveLoopAsync();
#else
        ReceiveLoop = Task.Run(RunReceiveLoopAsync);
#endif
    }

    /// <summary>The outbound pipe, made (with its send loop) on first use by the connection's sender. Races are settled by a
    /// compare-exchange: one pipe and one loop per connection.</summary>
    private Pipe Outbound()
    {
        Pipe? outbound = Volatile.Read(ref _outbound);
        if (outbound != null)
        {
            return outbound;
        }

        var created = new Pipe(_outboundOptions!);
        outbound = Interlocked.CompareExchange(ref _outbound, created, null);
        if (outbound != null)
        {
            return outbound;
        }

#if NET
        SendLoop = RunSendLoopAsync();
#else
        SendLoop = Task.Run(RunSendLoopAsync);
#endif
        return created;
    }

    /// <summary>Stops both loops and closes the transport (unless left open). The inbound pipe's reader must have been
    /// completed by the connection before, or must not be in use.</summary>
    public async ValueTask DisposeAsync()
    {
        _disposing = true;
        Interlocked.MemoryBarrier();
        Volatile.Read(ref _abort)?.Cancel();
        Volatile.Read(ref _outbound)?.Reader.CancelPendingRead();
        _inbound.Writer.CancelPendingFlush();
        if (!_leaveOpen || _io is PipeReaderTransportIO)
        {
            _io.Close();
        }

        try
        {
            await TaskHelpers.WaitAtMostAsync(Task.WhenAll(ReceiveLoopUnlessParked(), SendLoop), s_loopExitWait).ConfigureAwait(false);
        }
        finally
        {
            Volatile.Read(ref _outbound)?.Writer.Complete();
            _inbound.Reader.Complete();
            (_io as PipeReaderTransportIO)?.Complete();
        }
    }

    /// <summary>
    /// Marks the transport as being detached, so that the end of sending (the next step: the connection's sender completes
    /// the outbound pipe) does not shut its send side down.
    /// </summary>
    public void BeginDetach() => _detaching = true;

    private bool Stopping => _disposing || _detaching;

    /// <summary>The receive loop's task, or a completed one while the loop waits in a zero-byte receive it may abandon.
    /// Read after <see cref="Stopping"/> was set and a full fence: the loop sets <see cref="_parked"/>, fences, and checks
    /// <see cref="Stopping"/> before it waits, so one of the two sees the other.</summary>
    private Task ReceiveLoopUnlessParked() => Volatile.Read(ref _parked) != 0 ? Task.CompletedTask : ReceiveLoop;

    /// <summary>The token of real receives and sends, its source made on first use (see the constructor); checked against
    /// <see cref="Stopping"/> by the caller after this call, so a stop that found no source cannot miss the receive.</summary>
    private CancellationToken AbortToken()
    {
        CancellationTokenSource? abort = Volatile.Read(ref _abort);
        if (abort == null)
        {
            var created = new CancellationTokenSource();
            abort = Interlocked.CompareExchange(ref _abort, created, null) ?? created;
        }

        return abort.Token;
    }

    /// <summary>
    /// The receive half of a detach, after every send went out: cancels the pending receive (a cancelled receive takes no
    /// bytes) and waits for the receive loop to end, so that every byte it took from the transport is in the inbound pipe,
    /// whose writer it completes. The transport is neither closed nor shut down.
    /// </summary>
    /// <remarks>Where receives cannot be cancelled (a left-open socket on netstandard2.0), the loop waits with a zero-byte
    /// receive, which takes no bytes, and stops after it: the wait for the loop is then bounded, not the loop.</remarks>
    public async Task StopForDetachAsync()
    {
        _detaching = true;
        Interlocked.MemoryBarrier();
        Volatile.Read(ref _abort)?.Cancel();
        await TaskHelpers.WaitAtMostAsync(ReceiveLoopUnlessParked(), s_loopExitWait).ConfigureAwait(false);
        (_io as PipeReaderTransportIO)?.ReleaseForDetach();
    }

    private async Task RunReceiveLoopAsync()
    {
#if NET
        await Task.CompletedTask.ConfigureAwait(ConfigureAwaitOptions.ForceYielding);
#endif
        PipeWriter writer = _inbound.Writer;
        int readSize = Math.Min(InitialReadSize, _maxReadSize);
        bool lastReadFilled = false;
        int blockLeft = 0;
        bool endOfStream = false;
        try
        {
            while (true)
            {
                int available = 0;
                if (Stopping)
                {
                    break;
                }

                // Wait for data holding no buffer: an idle connection keeps no block of the pool. Where the transport can
                // tell whether a receive would complete at once (a socket, a NetworkStream), a receive is only issued when
                // it would, whatever the options say: a cancelled socket receive was seen to stay pending on Linux and take
                // the bytes the peer sent after a detach, so none may be pending when the connection stops. A zero-byte
                // receive can wake with nothing to read (seen twice in a row); it then waits again.
                bool wait = (_waitForData && !lastReadFilled) || !_io.ReceivesAreCancelable
                    || (_io.KnowsReadiness && !_io.IsReadable(out available));
                bool stopped = false;
                while (wait)
                {
                    if (_abandonsZeroByteWaits)
                    {
                        // A zero-byte receive takes no bytes: it may be left pending at a stop (see _parked).
                        Volatile.Write(ref _parked, 1);
                        Interlocked.MemoryBarrier();
                        if (Stopping)
                        {
                            stopped = true;
                            break;
                        }
                    }

                    available = await _io.WaitForDataAsync(_abandonsZeroByteWaits ? default : AbortToken()).ConfigureAwait(false);
                    Volatile.Write(ref _parked, 0);
                    if (Stopping)
                    {
                        stopped = true;
                        break;
                    }

                    wait = _io.KnowsReadiness && !_io.IsReadable(out available);
                }

                if (stopped)
                {
                    break;
                }

                CancellationToken abort = AbortToken();
                if (Stopping)
                {
                    break;
                }

                // Fill what is left of the last block before taking a new one: a block is held until the application has
                // consumed all of it, so a new block per small read would hold 64 KiB for a few bytes. (If the pipe
                // returned that block meanwhile, asking for as much gets a block of about that size.)
                int wanted = Math.Max(readSize, Math.Min(available, _maxReadSize));
                Memory<byte> memory = writer.GetMemory(blockLeft >= MinimumUsefulRemainder ? Math.Min(blockLeft, wanted) : wanted);
                int read = await _io.ReceiveAsync(memory, abort).ConfigureAwait(false);
                if (read == 0)
                {
                    endOfStream = true;
                    break;
                }

                writer.Advance(read);
                blockLeft = memory.Length - read;

                // A read that filled its buffer says more is waiting: read bigger, and skip the zero-byte wait.
                lastReadFilled = read == memory.Length;
                if (lastReadFilled)
                {
                    readSize = Math.Min(readSize * 2, _maxReadSize);
                }
                else if (read < readSize / 4 && readSize > InitialReadSize)
                {
                    readSize /= 2;
                }

                // Counted once the flush has made the bytes readable (a Pipe commits them when FlushAsync is called, before
                // any wait for backpressure): a byte counted in BytesReceived can always be read, which a graceful
                // shutdown's drain relies on.
                ValueTask<FlushResult> flushing = writer.FlushAsync();
                Interlocked.Add(ref _bytesReceived, read);
                FlushResult flush = await flushing.ConfigureAwait(false);
                if (flush.IsCompleted || flush.IsCanceled)
                {
                    break;
                }
            }

            if (_detaching)
            {
                // Stopped for a detach: the transport goes on, with its next bytes unread.
            }
            else if (endOfStream && await ResetTakenBySendAsync().ConfigureAwait(false) is Exception reset)
            {
                // The end of this stream is that reset: every frame received is still delivered, then the fault.
                ReceiveFault = reset;
                _lifetime.TrySet(ConnectionShutdownReason.Reset);
            }
            else
            {
                _lifetime.TrySet(ConnectionShutdownReason.PeerClosed);
            }
        }
        catch (Exception) when (_disposing || _detaching)
        {
            // Disposed: the reader is going away; or detached: the cancelled receive took no bytes.
        }
        catch (Exception ex)
        {
            // A reset or a failed read: end the inbound stream cleanly so that every frame already received is still
            // delivered; the connection reports the fault after the last frame (or as a truncated frame).
            ReceiveFault = ex;
            _lifetime.TrySet(TransportIO.Classify(ex));
        }

        writer.Complete();
    }

    /// <summary>At an end of stream: the reset a send took, if one did (see the remarks), or <see langword="null"/> for the
    /// peer's close. A send in flight may have taken it without having said so yet: its outcome is awaited, for up to
    /// <see cref="s_sendOutcomeWait"/>.</summary>
    private async ValueTask<Exception?> ResetTakenBySendAsync()
    {
        if (Volatile.Read(ref _sendInFlight) != 0 && !_disposing)
        {
            var outcome = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            Interlocked.Exchange(ref _sendOutcome, outcome);

            // Checked again after publishing the waiter: a send that ends from here on finds it (OnSendSettled).
            if (Volatile.Read(ref _sendInFlight) != 0)
            {
                try
                {
                    // Task.WaitAsync on the connection's clock (Microsoft.Bcl.TimeProvider's on netstandard2.0): its timer is
                    // disposed when the wait ends either way.
                    await outcome.Task.WaitAsync(s_sendOutcomeWait, _time).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    // Still sending to a live peer: the end of stream was its close.
                }
            }
        }

        Exception? fault = SendFault;
        return fault != null && TransportIO.Classify(fault) == ConnectionShutdownReason.Reset ? fault : null;
    }

    /// <summary>The send in flight has ended and <see cref="SendFault"/> holds its failure, if any: wakes an end of stream
    /// waiting for it.</summary>
    private void OnSendSettled()
    {
        Interlocked.Exchange(ref _sendInFlight, 0);
        if (Volatile.Read(ref _sendOutcome) != null)
        {
            Interlocked.Exchange(ref _sendOutcome, null)?.TrySetResult(true);
        }
    }

    private async Task RunSendLoopAsync()
    {
#if NET
        await Task.CompletedTask.ConfigureAwait(ConfigureAwaitOptions.ForceYielding);
#endif
        PipeReader reader = _outbound!.Reader;
        CancellationToken abort = AbortToken();
        try
        {
            while (true)
            {
                ReadResult result = await reader.ReadAsync().ConfigureAwait(false);
                if (result.IsCanceled)
                {
                    break;
                }

                ReadOnlySequence<byte> buffer = result.Buffer;
                if (!buffer.IsEmpty)
                {
                    // Everything buffered goes out now: frames from many senders leave together (coalescing), in one
                    // gathered send where the transport has one.
                    Interlocked.Exchange(ref _sendInFlight, 1);
                    await _io.SendAsync(buffer, abort).ConfigureAwait(false);
                    OnSendSettled();
                    Interlocked.Add(ref _bytesSent, buffer.Length);
                }

                reader.AdvanceTo(buffer.End);
                if (result.IsCompleted)
                {
                    break;
                }
            }

            if (!_disposing && !_leaveOpen && !_detaching)
            {
                await _io.ShutdownSendAsync().ConfigureAwait(false);
            }

            reader.Complete();
        }
        catch (Exception ex)
        {
            SendFault = _disposing ? new ObjectDisposedException(nameof(FramedConnection), "The connection was disposed while it was sending.") : ex;
            if (!_disposing)
            {
                _lifetime.TrySet(TransportIO.Classify(ex));
            }

            OnSendSettled();

            reader.Complete(SendFault);
        }
    }

    /// <summary>The options of a pipe: <paramref name="last"/> if it has these settings, else new ones, kept there if they
    /// use the default pool.</summary>
    private static PipeOptions SharedPipeOptions(
        ref PipeOptions? last,
        MemoryPool<byte> pool,
        PipeScheduler writerScheduler,
        long pauseWriterThreshold,
        long resumeWriterThreshold,
        int minimumSegmentSize)
    {
        PipeOptions? options = Volatile.Read(ref last);
        if (options != null
            && options.Pool == pool
            && options.WriterScheduler == writerScheduler
            && options.PauseWriterThreshold == pauseWriterThreshold
            && options.ResumeWriterThreshold == resumeWriterThreshold
            && options.MinimumSegmentSize == minimumSegmentSize)
        {
            return options;
        }

        options = new PipeOptions(
            pool: pool,
            readerScheduler: PipeScheduler.ThreadPool,
            writerScheduler: writerScheduler,
            pauseWriterThreshold: pauseWriterThreshold,
            resumeWriterThreshold: resumeWriterThreshold,
            minimumSegmentSize: minimumSegmentSize,
            useSynchronizationContext: false);
        if (pool == BlockMemoryPool.Default)
        {
            Volatile.Write(ref last, options);
        }

        return options;
    }

    /// <summary>The connection's view of the outbound pipe: makes it (and the send loop) on first use, then forwards.</summary>
    private sealed class OutboundWriter(TransportPipe owner) : PipeWriter
    {
        private PipeWriter Writer => (Volatile.Read(ref owner._outbound) ?? owner.Outbound()).Writer;

        public override void Advance(int bytes) => Writer.Advance(bytes);

        public override Memory<byte> GetMemory(int sizeHint = 0) => Writer.GetMemory(sizeHint);

        public override Span<byte> GetSpan(int sizeHint = 0) => Writer.GetSpan(sizeHint);

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) => Writer.FlushAsync(cancellationToken);

        public override void CancelPendingFlush() => Volatile.Read(ref owner._outbound)?.Writer.CancelPendingFlush();

        // The end of sending makes the pipe too: the send loop is what shuts the transport's send side down (FIN).
        public override void Complete(Exception? exception = null) => Writer.Complete(exception);
    }
}
