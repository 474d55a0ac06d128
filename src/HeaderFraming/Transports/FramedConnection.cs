using System;
using System.Buffers;
using System.IO;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Threading;
using System.Threading.Tasks;
using HeaderFraming.Internal;
using HeaderFraming.Serialization;

namespace HeaderFraming;

/// <summary>
/// A framed connection over any <see cref="Stream"/> (a <see cref="NetworkStream"/>, an <see cref="System.Net.Security.SslStream"/>,
/// a pipe stream), any connected <see cref="Socket"/>, or an existing <see cref="IDuplexPipe"/>: whole frames in, whole frames out.
/// </summary>
/// <remarks>
/// <para><b>Reading</b> is for one consumer at a time: <see cref="ReadFrameAsync"/> returns frames whose payloads are slices of
/// the connection's buffers, valid until the next read (see <see cref="FrameReader"/>).</para>
/// <para><b>Sending</b> is safe from many tasks at once: each <see cref="SendAsync(ReadOnlyMemory{byte}, CancellationToken)"/>
/// writes its whole frame atomically (frames never interleave) and flushes are coalesced: while the transport is busy sending,
/// later frames accumulate and go out together in one write. When more than
/// <see cref="FramedConnectionOptions.MaxBufferedSendBytes"/> are waiting for a slow peer, senders wait (backpressure).</para>
/// <para><b>Cancellation</b> never corrupts the stream: a cancelled read consumes nothing; a cancelled send has either written
/// its whole frame (which will be sent) or nothing. Over a <see cref="Stream"/> or <see cref="Socket"/>, the transport is driven
/// by two background loops that are never cancelled by a caller's token, so no transport read or write is ever abandoned
/// half-way.</para>
/// <para><b>Shutdown</b>: <see cref="CompleteSendingAsync"/> sends what is buffered and shuts down the send side (TCP FIN, TLS
/// close_notify); frames the peer still sends can be read until it closes. A peer that closes between frames ends reading
/// with <see cref="FrameReadResult.IsCompleted"/>; one that closes or resets inside a frame raises
/// <see cref="FrameTruncatedException"/> after every earlier frame; a reset between frames raises an <see cref="IOException"/>
/// after every earlier frame. <see cref="DisposeAsync"/> sends what is buffered (for up to 5 seconds), then closes.</para>
/// <example>
/// <code>
/// await using FramedConnection connection = await FramedConnection.ConnectAsync("127.0.0.1", 1243, AsciiDecimalCodec.Default);
/// await connection.SendAsync("hello"u8.ToArray());
/// FrameReadResult result = await connection.ReadFrameAsync();
/// </code>
/// </example>
/// </remarks>
public sealed partial class FramedConnection
#if NET
    : IAsyncDisposable
#endif
{
    private static readonly TimeSpan s_drainOnDispose = TimeSpan.FromSeconds(5);

    private readonly IFrameCodec _codec;
    private readonly FrameReader _reader;
    private readonly FrameWriter _writer;
    private readonly PipeWriter _output;
    private readonly object _sendLock = new object();
    private readonly StreamTransport? _transport;

    private Task? _pendingFlush;
    private readonly long _coalescingBytes;
    private int _sendersInFlight;
    private bool _unflushed;
    private long _bytesFlushed;
    private Exception? _sendFault;
    private bool _sendingCompleted;
    private int _disposed;

    private FramedConnection(PipeReader input, PipeWriter output, IFrameCodec codec, FramedConnectionOptions options, StreamTransport? transport)
    {
        _codec = codec;
        _output = output;
        _transport = transport;
        _reader = new FrameReader(input, codec, options.Reader);
        _writer = new FrameWriter(output, codec);
        _coalescingBytes = CoalescingBytes(options);
#if NET
        FramingMetrics.ConnectionOpened();
#endif
    }

    /// <summary>Bytes accepted by sends but not yet handed to the stream (tests of the backpressure bound; .NET 8+ only).</summary>
    internal long BufferedSendBytes => _writer.BytesWritten - (_transport?.BytesSent ?? 0);

    /// <summary>The header format of both directions.</summary>
    public IFrameCodec Codec => _codec;

    /// <summary>Frames <paramref name="stream"/> (read and written by background loops; see the remarks of <see cref="FramedConnection"/>).</summary>
    /// <param name="stream">A readable and writable stream: <see cref="NetworkStream"/>, <see cref="System.Net.Security.SslStream"/> (authenticated), a pipe stream.</param>
    /// <param name="codec">The header format.</param>
    /// <param name="options">Buffering and limits; <see langword="null"/> for the defaults.</param>
    /// <param name="leaveOpen"><see langword="true"/> to leave the stream open when the connection is disposed.</param>
    /// <returns>The connection.</returns>
    public static FramedConnection Create(Stream stream, IFrameCodec codec, FramedConnectionOptions? options = null, bool leaveOpen = false)
    {
        if (stream is null)
        {
            throw new ArgumentNullException(nameof(stream));
        }

        if (codec is null)
        {
            throw new ArgumentNullException(nameof(codec));
        }

        if (!stream.CanRead || !stream.CanWrite)
        {
            ThrowHelper.ThrowArgument(nameof(stream), "The stream must be readable and writable.");
        }

        return CreateOverStream(stream, socket: null, codec, options, leaveOpen);
    }

    /// <summary>Frames a connected <paramref name="socket"/> (wrapped in a <see cref="NetworkStream"/>).</summary>
    /// <param name="socket">A connected stream socket, e.g. from <c>Socket.AcceptAsync</c> or <c>TcpListener.AcceptSocketAsync</c>.</param>
    /// <param name="codec">The header format.</param>
    /// <param name="options">Buffering and limits; <see langword="null"/> for the defaults.</param>
    /// <param name="leaveOpen"><see langword="true"/> to leave the socket open when the connection is disposed.</param>
    /// <returns>The connection.</returns>
    public static FramedConnection Create(Socket socket, IFrameCodec codec, FramedConnectionOptions? options = null, bool leaveOpen = false)
    {
        if (socket is null)
        {
            throw new ArgumentNullException(nameof(socket));
        }

        if (codec is null)
        {
            throw new ArgumentNullException(nameof(codec));
        }

        return CreateOverStream(new NetworkStream(socket, ownsSocket: !leaveOpen), socket, codec, options, leaveOpen);
    }

    private static FramedConnection CreateOverStream(Stream stream, Socket? socket, IFrameCodec codec, FramedConnectionOptions? options, bool leaveOpen)
    {
        options ??= new FramedConnectionOptions();
        var transport = new StreamTransport(stream, socket, leaveOpen, options);
        var connection = new FramedConnection(transport.Input, transport.Output, codec, options, transport);
        transport.Start();
        return connection;
    }

    /// <summary>Frames an existing duplex pipe, e.g. Kestrel's <c>ConnectionContext.Transport</c>. The pipe's own buffering and
    /// backpressure apply; <see cref="FramedConnectionOptions.SegmentSize"/> and <see cref="FramedConnectionOptions.MaxBufferedSendBytes"/> do not.</summary>
    /// <param name="transport">The duplex pipe.</param>
    /// <param name="codec">The header format.</param>
    /// <param name="options">Read limits; <see langword="null"/> for the defaults.</param>
    /// <returns>The connection. Disposing it completes both sides of the pipe.</returns>
    public static FramedConnection Create(IDuplexPipe transport, IFrameCodec codec, FramedConnectionOptions? options = null)
    {
        if (transport is null)
        {
            throw new ArgumentNullException(nameof(transport));
        }

        if (codec is null)
        {
            throw new ArgumentNullException(nameof(codec));
        }

        return new FramedConnection(transport.Input, transport.Output, codec, options ?? new FramedConnectionOptions(), null);
    }

    /// <summary>Connects a TCP socket (with <see cref="Socket.NoDelay"/>, since the connection coalesces small frames itself) and frames it.</summary>
    /// <param name="host">The host name or address.</param>
    /// <param name="port">The port.</param>
    /// <param name="codec">The header format.</param>
    /// <param name="options">Buffering and limits; <see langword="null"/> for the defaults.</param>
    /// <param name="cancellationToken">Cancels the connect.</param>
    /// <returns>The connection.</returns>
    public static async Task<FramedConnection> ConnectAsync(string host, int port, IFrameCodec codec, FramedConnectionOptions? options = null, CancellationToken cancellationToken = default)
    {
        if (host is null)
        {
            throw new ArgumentNullException(nameof(host));
        }

        if (codec is null)
        {
            throw new ArgumentNullException(nameof(codec));
        }

        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
#if NET
            await socket.ConnectAsync(host, port, cancellationToken).ConfigureAwait(false);
#else
            using (cancellationToken.Register(static s => ((Socket)s!).Dispose(), socket))
            {
                try
                {
                    await socket.ConnectAsync(host, port).ConfigureAwait(false);
                }
                catch (ObjectDisposedException) when (cancellationToken.IsCancellationRequested)
                {
                    throw new OperationCanceledException(cancellationToken);
                }
            }
#endif
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        return Create(socket, codec, options);
    }

    /// <summary>Reads the next frame. See <see cref="FrameReader.ReadFrameAsync"/>: the frame is valid until the next read.</summary>
    /// <param name="cancellationToken">Cancels the wait; nothing is consumed.</param>
    /// <returns>The frame, or <see cref="FrameReadResult.IsCompleted"/> when the peer closed between two frames.</returns>
    /// <exception cref="FrameException">The peer sent a malformed, too large or truncated frame.</exception>
    /// <exception cref="FrameTimeoutException">A timeout of <see cref="FramedConnectionOptions.Reader"/> expired.</exception>
    /// <exception cref="IOException">The transport failed (e.g. the peer reset the connection) between two frames.</exception>
    public ValueTask<FrameReadResult> ReadFrameAsync(CancellationToken cancellationToken = default)
    {
        ValueTask<FrameReadResult> read = _reader.ReadFrameAsync(cancellationToken);
        if (read.IsCompletedSuccessfully)
        {
            FrameReadResult result = read.Result;
            if (!result.IsCompleted)
            {
                return new ValueTask<FrameReadResult>(result);
            }
        }

        return AwaitReadAsync(read);
    }

    /// <summary>Returns the next frame if it is already buffered, without waiting (see <see cref="FrameReader.TryReadFrame(out Frame)"/>).</summary>
    /// <param name="frame">The frame, valid until the next read.</param>
    /// <returns><see langword="true"/> if a frame was returned.</returns>
    public bool TryReadFrame(out Frame frame) => _reader.TryReadFrame(out frame);

    /// <summary>Returns the next buffered frame as spans if it lies in one block of memory, without waiting (see
    /// <see cref="FrameReader.TryReadFrame(out ReadOnlySpan{byte}, out ReadOnlySpan{byte})"/>: the fastest way to drain
    /// buffered frames; split frames and waits go through <see cref="ReadFrameAsync"/>).</summary>
    /// <param name="header">The header, valid until the next read.</param>
    /// <param name="payload">The payload, valid until the next read.</param>
    /// <returns><see langword="true"/> if a frame was returned.</returns>
    public bool TryReadFrame(out ReadOnlySpan<byte> header, out ReadOnlySpan<byte> payload) => _reader.TryReadFrame(out header, out payload);

    /// <summary>Reads the next frame and deserializes its payload.</summary>
    /// <typeparam name="T">The message type.</typeparam>
    /// <param name="serializer">The payload format, e.g. <see cref="Utf8TextSerializer.Instance"/>.</param>
    /// <param name="cancellationToken">Cancels the wait; nothing is consumed.</param>
    /// <returns>The message.</returns>
    /// <exception cref="EndOfStreamException">The peer closed the connection between two frames: there are no more messages.</exception>
    public async ValueTask<T> ReadAsync<T>(IFrameSerializer<T> serializer, CancellationToken cancellationToken = default)
    {
        if (serializer is null)
        {
            throw new ArgumentNullException(nameof(serializer));
        }

        while (true)
        {
            FrameReadResult result = await ReadFrameAsync(cancellationToken).ConfigureAwait(false);
            if (result.HasFrame)
            {
                return serializer.Deserialize(result.Frame.Payload);
            }

            if (result.IsCompleted)
            {
                throw new EndOfStreamException("The peer closed the connection: there are no more messages.");
            }

            cancellationToken.ThrowIfCancellationRequested();
            throw new OperationCanceledException("The read was cancelled by CancelPendingRead.");
        }
    }

#if NET
    /// <summary>Reads every frame until the peer closes, as an async sequence (.NET 8+).</summary>
    /// <param name="cancellationToken">Cancels the enumeration.</param>
    /// <returns>The frames; each is valid only until the enumeration moves on.</returns>
    public async System.Collections.Generic.IAsyncEnumerable<Frame> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        while (true)
        {
            FrameReadResult result = await ReadFrameAsync(cancellationToken).ConfigureAwait(false);
            if (!result.HasFrame)
            {
                yield break;
            }

            yield return result.Frame;
        }
    }

    /// <summary>Reads and deserializes every message until the peer closes, as an async sequence (.NET 8+).</summary>
    /// <typeparam name="T">The message type.</typeparam>
    /// <param name="serializer">The payload format.</param>
    /// <param name="cancellationToken">Cancels the enumeration.</param>
    /// <returns>The messages.</returns>
    public async System.Collections.Generic.IAsyncEnumerable<T> ReadAllAsync<T>(IFrameSerializer<T> serializer, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        if (serializer is null)
        {
            throw new ArgumentNullException(nameof(serializer));
        }

        await foreach (Frame frame in ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            yield return serializer.Deserialize(frame.Payload);
        }
    }
#endif

    /// <summary>Makes the pending (or next) read return <see cref="FrameReadResult.IsCanceled"/>, consuming nothing.</summary>
    public void CancelPendingRead() => _reader.CancelPendingRead();

    /// <summary>Sends one frame. Safe to call from many tasks at once; see the remarks of <see cref="FramedConnection"/>.</summary>
    /// <param name="payload">The payload; copied into the connection's buffers by the time the returned task completes (at once
    /// unless earlier frames are waiting for buffer space): do not change or return its memory before then.</param>
    /// <param name="cancellationToken">Cancels the wait for buffer space (backpressure). If the frame was already buffered it
    /// is still sent whole; otherwise nothing is written.</param>
    /// <returns>A task that completes when the frame is buffered and the send buffer is under its bound.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The payload does not fit the codec's header; nothing was written.</exception>
    /// <exception cref="IOException">The connection can no longer send (the peer is gone or the transport failed).</exception>
    /// <exception cref="InvalidOperationException"><see cref="CompleteSendingAsync"/> was called.</exception>
    public ValueTask SendAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default)
        => SendCoreAsync(payload, static (FrameWriter writer, in ReadOnlyMemory<byte> state) => writer.Write(state.Span), cancellationToken);

    /// <summary>Sends one frame whose fixed header carries more than the length (a type byte, an opcode): see
    /// <see cref="FrameWriter.Write(ReadOnlySpan{byte}, ReadOnlySpan{byte})"/>. Thread-safe like
    /// <see cref="SendAsync(ReadOnlyMemory{byte}, CancellationToken)"/>.</summary>
    /// <param name="header">Every header byte; the codec fills in the length field.</param>
    /// <param name="payload">The payload.</param>
    /// <param name="cancellationToken">Cancels the wait for buffer space.</param>
    /// <returns>A task that completes when the frame is buffered.</returns>
    public ValueTask SendAsync(ReadOnlyMemory<byte> header, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default)
        => SendCoreAsync((header, payload), static (FrameWriter writer, in (ReadOnlyMemory<byte> Header, ReadOnlyMemory<byte> Payload) state)
            => writer.Write(state.Header.Span, state.Payload.Span), cancellationToken);

    /// <summary>Serializes <paramref name="value"/> straight into the connection's buffer behind a back-patched header (no
    /// intermediate buffer with a fixed-width codec) and sends it as one frame. Thread-safe.</summary>
    /// <typeparam name="T">The message type.</typeparam>
    /// <param name="value">The message.</param>
    /// <param name="serializer">The payload format, e.g. <see cref="Utf8TextSerializer.Instance"/>.</param>
    /// <param name="cancellationToken">Cancels the wait for buffer space.</param>
    /// <returns>A task that completes when the frame is buffered.</returns>
    /// <remarks>If the serializer throws before any of the payload had to be handed to the transport, nothing is sent and the
    /// connection can go on; otherwise the connection is closed to avoid sending a corrupt frame.</remarks>
    public ValueTask SendAsync<T>(T value, IFrameSerializer<T> serializer, CancellationToken cancellationToken = default)
    {
        if (serializer is null)
        {
            throw new ArgumentNullException(nameof(serializer));
        }

        return SendCoreAsync((value, serializer), static (FrameWriter writer, in (T Value, IFrameSerializer<T> Serializer) state) =>
        {
            IBufferWriter<byte> body = writer.BeginFrame();
            try
            {
                state.Serializer.Serialize(state.Value, body);
            }
            catch
            {
                writer.AbortFrame();
                throw;
            }

            writer.EndFrame();
        }, cancellationToken);
    }

    /// <summary>
    /// Sends everything buffered, then shuts down the send side where the transport has one: a TCP FIN for a
    /// <see cref="Socket"/> or <see cref="NetworkStream"/>, a TLS close_notify for an <see cref="System.Net.Security.SslStream"/>, the
    /// pipe's completion for an <see cref="IDuplexPipe"/>. Other streams (named or anonymous pipes) cannot signal the end of
    /// sending without closing; the peer sees it when the connection is disposed. Reading goes on: frames the peer still sends
    /// can be read until it closes. Later sends throw <see cref="InvalidOperationException"/>. Nothing happens to a stream
    /// created with <c>leaveOpen</c> but the flush.
    /// </summary>
    /// <param name="cancellationToken">Cancels the wait (the shutdown goes on).</param>
    /// <returns>A task that completes when the send side is shut down.</returns>
    /// <exception cref="IOException">Frames accepted earlier could not be sent, or the shutdown failed (the peer is gone or the
    /// transport failed).</exception>
    public async Task CompleteSendingAsync(CancellationToken cancellationToken = default)
    {
        Task? pending;
        lock (_sendLock)
        {
            _sendingCompleted = true;
            pending = _pendingFlush;
        }

        if (pending != null)
        {
            try
            {
                await TaskHelpers.WaitAsync(pending, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // The send fault is reported by the transport below.
            }
        }

        lock (_sendLock)
        {
            _writer.Complete();
        }

        if (_transport != null)
        {
            await TaskHelpers.WaitAsync(_transport.SendLoop, cancellationToken).ConfigureAwait(false);

            // The send loop records its fault instead of throwing it: frames accepted earlier may never have gone out.
            if (_transport.SendFault is Exception fault)
            {
                lock (_sendLock)
                {
                    throw RecordSendFaultLocked(fault);
                }
            }
        }
    }

    /// <summary>Sends what is buffered (waiting up to 5 seconds for a slow peer), then closes the connection and, unless it was
    /// created with <c>leaveOpen</c>, the stream or socket.</summary>
    /// <returns>A task that completes when the connection is closed.</returns>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

#if NET
        FramingMetrics.ConnectionClosed();
#endif

        lock (_sendLock)
        {
            _sendingCompleted = true;
        }

        if (_transport != null)
        {
            try
            {
                using var drain = new CancellationTokenSource(s_drainOnDispose);
                await CompleteSendingAsync(drain.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException || ex is IOException || ex is ObjectDisposedException || ex is SocketException)
            {
                // Best effort: the peer is slow or gone; close anyway.
            }

            _reader.Complete();
            await _transport.DisposeAsync().ConfigureAwait(false);
        }
        else
        {
            lock (_sendLock)
            {
                _writer.Complete();
            }

            _reader.Complete();
        }
    }

    private async ValueTask<FrameReadResult> AwaitReadAsync(ValueTask<FrameReadResult> read)
    {
        FrameReadResult result = await read.ConfigureAwait(false);
        if (result.IsCompleted && _transport?.ReceiveFault is Exception fault)
        {
            throw new IOException("The connection failed after the last complete frame: " + fault.Message, fault);
        }

        return result;
    }

    /// <summary>How many bytes concurrent senders may leave unflushed for the next one: up to 32 KiB, a quarter of the send
    /// buffer bound (the transport's pause threshold is lowered by as much, so the bound still holds).</summary>
    internal static long CoalescingBytes(FramedConnectionOptions options) => Math.Min(32 * 1024, options.MaxBufferedSendBytes / 4);

    private delegate void WriteFrame<TState>(FrameWriter writer, in TState state);

    // Flush coalescing among concurrent senders: every sender counts itself in _sendersInFlight before it takes the lock and
    // leaves that count (always under the lock) once it has written its frame or given up. A sender that writes while others
    // are still in flight leaves the flush to them (_unflushed); the last one out flushes for everybody. A flush waiting for
    // backpressure blocks further writes, and when it completes it flushes whatever was left unflushed meanwhile.
    private ValueTask SendCoreAsync<TState>(TState state, WriteFrame<TState> write, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return new ValueTask(Task.FromCanceled(cancellationToken));
        }

        Interlocked.Increment(ref _sendersInFlight);
        lock (_sendLock)
        {
            if (_pendingFlush == null)
            {
                return WriteLocked(state, write, cancellationToken);
            }
        }

        return SendAfterBackpressureAsync(state, write, cancellationToken);
    }

    private async ValueTask SendAfterBackpressureAsync<TState>(TState state, WriteFrame<TState> write, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task? pending;
            ValueTask written = default;
            lock (_sendLock)
            {
                pending = _pendingFlush;
                if (pending == null)
                {
                    written = WriteLocked(state, write, cancellationToken);
                }
            }

            if (pending == null)
            {
                await written.ConfigureAwait(false);
                return;
            }

            try
            {
                // Cancelled here, nothing of this frame was written.
                await TaskHelpers.WaitAsync(pending, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                lock (_sendLock)
                {
                    LeaveLocked();
                }

                throw;
            }
            catch (Exception)
            {
                // The flush that failed recorded the fault; the next round reports it.
            }
        }
    }

    /// <summary>Called under <see cref="_sendLock"/> with no flush pending, by a sender counted in
    /// <see cref="_sendersInFlight"/>: writes the frame, leaves the count, and flushes unless a later sender will.</summary>
    private ValueTask WriteLocked<TState>(TState state, WriteFrame<TState> write, CancellationToken cancellationToken)
    {
        try
        {
            ThrowIfCannotSendLocked();
            write(_writer, state);
        }
        catch
        {
            LeaveLocked();
            throw;
        }

        _unflushed = true;
        long unflushed = _writer.BytesWritten - _bytesFlushed;
        if (Interlocked.Decrement(ref _sendersInFlight) > 0 && unflushed < _coalescingBytes)
        {
            // Another sender is about to write: its flush carries this frame too (up to _coalescingBytes, so that
            // senders arriving without a pause cannot postpone the flush for ever).
            return default;
        }

        return FlushLocked(cancellationToken);
    }

    /// <summary>A counted sender gives up without writing; if it was the last, it flushes what others left unflushed.</summary>
    private void LeaveLocked()
    {
        if (Interlocked.Decrement(ref _sendersInFlight) == 0 && _unflushed && _pendingFlush == null)
        {
            ObserveFlush(FlushLocked(CancellationToken.None));
        }
    }

    private ValueTask FlushLocked(CancellationToken cancellationToken)
    {
        // The frames are in the buffer: the flush is never cancelled by a caller (a cancelled flush of a stream could leave
        // half a frame on the wire); the caller's token only abandons the wait for backpressure.
        _unflushed = false;
        _bytesFlushed = _writer.BytesWritten;
        ValueTask<FlushResult> flush;
        try
        {
            flush = _output.FlushAsync(CancellationToken.None);
        }
        catch (Exception ex)
        {
            return new ValueTask(Task.FromException(RecordSendFaultLocked(ex)));
        }

        if (flush.IsCompletedSuccessfully)
        {
            if (flush.Result.IsCompleted)
            {
                return new ValueTask(Task.FromException(RecordSendFaultLocked(null)));
            }

            return default;
        }

        // AwaitFlushAsync clears _pendingFlush (under this lock) before its task completes, so a non-null _pendingFlush is
        // always a flush still under way; one that completed while starting here (re-entering this lock) is not stored.
        Task pending = AwaitFlushAsync(flush);
        _pendingFlush = pending.IsCompleted ? null : pending;
        return new ValueTask(TaskHelpers.WaitAsync(pending, cancellationToken));
    }

    private async Task AwaitFlushAsync(ValueTask<FlushResult> flush)
    {
        FlushResult result;
        try
        {
            result = await flush.ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            lock (_sendLock)
            {
                _pendingFlush = null;
                throw RecordSendFaultLocked(ex);
            }
        }

        lock (_sendLock)
        {
            // Nothing else could start a flush while this one was pending.
            _pendingFlush = null;
            if (result.IsCompleted)
            {
                throw RecordSendFaultLocked(null);
            }

            if (_unflushed && Volatile.Read(ref _sendersInFlight) == 0 && !_sendingCompleted)
            {
                // Frames written by senders that left the flush to a sender that then gave up.
                ObserveFlush(FlushLocked(CancellationToken.None));
            }
        }
    }

    private static void ObserveFlush(ValueTask flush)
    {
        if (!flush.IsCompleted)
        {
            flush.AsTask().ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
        else if (flush.IsFaulted)
        {
            _ = flush.AsTask().Exception;
        }
    }

    private Exception RecordSendFaultLocked(Exception? ex)
    {
        Exception cause = ex ?? _transport?.SendFault ?? new IOException("The transport stopped accepting data.");
        _sendFault ??= new IOException("The connection can no longer send: " + cause.Message, cause);
        return _sendFault;
    }

    private void ThrowIfCannotSendLocked()
    {
        if (_sendFault != null)
        {
            throw new IOException(_sendFault.Message, _sendFault);
        }

        if (_transport?.SendFault is Exception fault)
        {
            throw RecordSendFaultLocked(fault);
        }

        if (_sendingCompleted)
        {
            ThrowHelper.ThrowInvalidOperation("Sending was completed (CompleteSendingAsync or DisposeAsync); no more frames can be sent.");
        }
    }
}
