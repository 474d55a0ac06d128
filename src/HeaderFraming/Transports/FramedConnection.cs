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
using HeaderFraming.Transports;
using HeaderFraming.Transports.IO;

namespace HeaderFraming;

/// <summary>
/// A framed connection over any <see cref="Stream"/> (a <see cref="NetworkStream"/>, an <see cref="System.Net.Security.SslStream"/>,
/// a pipe stream), any connected <see cref="Socket"/>, or an existing <see cref="IDuplexPipe"/>: whole frames in, whole frames out.
/// </summary>
/// <remarks>
/// <para><b>Reading</b> is for one consumer at a time: <see cref="ReadFrameAsync(System.Threading.CancellationToken)"/> returns frames whose payloads are slices of
/// the connection's buffers, valid until the next read (see <see cref="FrameReader"/>).</para>
/// <para><b>Sending</b> is safe from many tasks at once: each <see cref="SendAsync(ReadOnlyMemory{byte}, CancellationToken)"/>
/// writes its whole frame atomically (frames never interleave), <b>in the order the calls were made</b> (un-awaited calls
/// from one task included), and flushes are coalesced: while the transport is busy sending, later frames accumulate and go
/// out together in one write. When more than <see cref="FramedConnectionOptions.MaxBufferedSendBytes"/> are waiting for a
/// slow peer, senders queue in call order (backpressure).</para>
/// <para><b>Cancellation</b> never corrupts the stream: a cancelled read consumes nothing; a cancelled send wrote nothing, and
/// a send that returned normally wrote its whole frame. Over a <see cref="Stream"/> or <see cref="Socket"/>, the transport
/// is driven by two background loops that are never cancelled by a caller's token, so no transport read or write is ever
/// abandoned half-way.</para>
/// <para><b>Memory</b>: an idle connection holds no receive or send buffer (it waits for data with a zero-byte read where
/// the transport honours one, see <see cref="FramedConnectionOptions.WaitForDataBeforeAllocatingBuffer"/>); buffers come
/// from <see cref="FramedConnectionOptions.MemoryPool"/> and go back to it as soon as they are consumed.</para>
/// <para><b>Faults lose nothing</b>: every complete frame received before the transport failed is delivered before the
/// failure is reported, over a <see cref="Stream"/>, a <see cref="Socket"/> and an <see cref="IDuplexPipe"/> alike. A peer
/// that closes between frames ends reading with <see cref="FrameReadResult.IsCompleted"/>; one that closes or resets inside
/// a frame raises <see cref="FrameTruncatedException"/> after every earlier frame; a reset between frames raises an
/// <see cref="IOException"/> after every earlier frame.</para>
/// <para><b>Lifetime</b>: <see cref="Closed"/> fires when the peer closes, the transport fails, a frame is malformed or
/// times out, or the connection is disposed, and <see cref="ShutdownReason"/> says which; <see cref="FramesReceived"/>,
/// <see cref="BytesReceived"/>, <see cref="FramesSent"/> and <see cref="BytesSent"/> count the traffic.
/// <see cref="CompleteSendingAsync"/> sends what is buffered and shuts down the send side (TCP FIN, TLS close_notify); frames
/// the peer still sends can be read until it closes. <see cref="DisposeAsync"/> sends what is buffered (for up to 5 seconds),
/// then closes; reads and sends after it throw <see cref="ObjectDisposedException"/>.</para>
/// <example>
/// <code>
/// await using FramedConnection connection = await FramedConnection.ConnectAsync("127.0.0.1", 1243, AsciiDecimalCodec.Default);
/// await connection.SendAsync("hello"u8.ToArray());
/// FrameReadResult result = await connection.ReadFrameAsync();
/// </code>
/// </example>
/// </remarks>
public sealed class FramedConnection : IReaderFaultObserver, IAsyncDisposable
{
    private static readonly TimeSpan s_drainOnDispose = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan s_readExitWait = TimeSpan.FromSeconds(2);


    private readonly FrameReader _reader;

    // The codec and limit of the sends called from now on; each send takes the current one when it is called, so a change
    // applies in call order, after the sends called before it (queued or not).
    private volatile SendFraming _sendFraming;

    private int _detaching;
    private readonly OrderedFrameSender _sender;
    private readonly TransportPipe _transport;
    private readonly ConnectionLifetime _lifetime;
    private int _disposed;

    private FramedConnection(TransportIO io, PipeWriter? directOutput, bool leaveOpen, IFrameCodec codec, FramedConnectionOptions? options)
    {
        options ??= new FramedConnectionOptions();
        _sendFraming = SendFraming.Unlimited(codec);
        _lifetime = new ConnectionLifetime();
        long coalescingBytes = CoalescingBytes(options);
        _transport = new TransportPipe(io, options, directOutput, leaveOpen, _lifetime, coalescingBytes);
        _reader = new FrameReader(_transport.Input, codec, options.Reader) { FaultObserver = this };
        _sender = new OrderedFrameSender(new FrameWriter(_transport.Output, codec), _transport.Output, coalescingBytes, _transport.WritesDirectly ? null : _transport);
        FramingMetrics.ConnectionOpened();
        _transport.Start();
    }

    /// <summary>Bytes accepted by sends but not yet handed to the transport (tests of the backpressure bound).</summary>
    internal long BufferedSendBytes => _sender.BytesWritten - BytesSent;

    /// <summary>Sends waiting in the queue behind backpressure (tests).</summary>
    internal int QueuedSends => _sender.QueuedCount;

    /// <summary>The header format of the frames read next. Setting it switches the framing at the next frame boundary: the
    /// bytes after the last frame read are decoded with the new codec (see <see cref="FrameReader.Codec"/>).</summary>
    /// <exception cref="InvalidOperationException">A read is pending.</exception>
    /// <exception cref="ObjectDisposedException">The connection was disposed or detached.</exception>
    public IFrameCodec ReceiveCodec
    {
        get => _reader.Codec;
        set
        {
            ThrowIfDisposed();
            _reader.Codec = value;
        }
    }

    /// <summary>The header format of the frames sent next. Setting it applies to the sends called after it, in call order:
    /// sends called before it (even those still queued behind backpressure) keep the codec they were called with.</summary>
    /// <exception cref="ArgumentNullException">The value is <see langword="null"/>.</exception>
    public IFrameCodec SendCodec
    {
        get => _sendFraming.Codec;
        set
        {
            if (value is null)
            {
                throw new ArgumentNullException(nameof(value));
            }

            long limit = _sendFraming.MaxFrameLength;
            _sendFraming = limit == long.MaxValue ? SendFraming.Unlimited(value) : new SendFraming(value, limit);
        }
    }

    /// <summary>The largest payload a read accepts (see <see cref="FrameReader.MaxFrameLength"/>); starts as
    /// <see cref="FrameReaderOptions.MaxFrameLength"/> and can change between reads.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is negative or above 2^62.</exception>
    /// <exception cref="InvalidOperationException">A read is pending.</exception>
    public long MaxReceiveFrameLength
    {
        get => _reader.MaxFrameLength;
        set => _reader.MaxFrameLength = value;
    }

    /// <summary>The largest payload a send accepts, in bytes: the peer's limit (HTTP/2's <c>SETTINGS_MAX_FRAME_SIZE</c>). A
    /// send over it is refused with an <see cref="ArgumentOutOfRangeException"/> before anything of it is written;
    /// <see cref="long.MaxValue"/> (the default) leaves the codec's own limit. Applies to the sends called after the change.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is negative.</exception>
    public long MaxSendFrameLength
    {
        get => _sendFraming.MaxFrameLength;
        set
        {
            if (value < 0)
            {
                ThrowHelper.ThrowArgumentOutOfRange(nameof(value), value, "MaxSendFrameLength cannot be negative.");
            }

            _sendFraming = new SendFraming(_sendFraming.Codec, value);
        }
    }

    /// <summary>Oversized frames discarded (<see cref="FrameReaderOptions.SkipOversizedFrames"/>).</summary>
    public long FramesSkipped => _reader.FramesSkipped;

    /// <summary>
    /// Fires once when the connection ends: the peer closed its side (a TCP FIN: like Kestrel's
    /// <c>ConnectionClosed</c>, this fires even though the connection can still send), the transport failed, a frame was
    /// malformed or timed out, or the connection was disposed. <see cref="ShutdownReason"/> says which. Callbacks run on the
    /// thread pool. A send-only server (the tutorial's time server) learns here that a client left without reading.
    /// </summary>
    public CancellationToken Closed => _lifetime.Closed;

    /// <summary>Why the connection ended (<see cref="ConnectionShutdownReason.None"/> while it is open): the first cause
    /// wins, except that <see cref="ConnectionShutdownReason.PeerClosed"/> becomes
    /// <see cref="ConnectionShutdownReason.PeerClosedMidFrame"/> when the reader reaches the frame the close cut short.</summary>
    public ConnectionShutdownReason ShutdownReason => _lifetime.Reason;

    /// <summary>Whole frames returned by reads so far.</summary>
    public long FramesReceived => _reader.FramesRead;

    /// <summary>Bytes received from the transport so far (whole frames, partial frames and bytes not yet read); every byte
    /// counted here can already be read.</summary>
    public long BytesReceived => _transport.BytesReceived;

    /// <summary>The stream offset of the next frame: how many of the bytes received the reads have taken (whole frames with
    /// their trailers, oversized frames skipped, raw reads), as <see cref="FrameReader.Position"/>. It equals
    /// <see cref="BytesReceived"/> when every byte received has been read. Read it from the reading thread.</summary>
    public long Position => _reader.Position;

    /// <summary>Frames accepted by sends so far (written into the connection's buffer in call order).</summary>
    public long FramesSent => _sender.FramesWritten;

    /// <summary>Bytes handed to the transport so far (headers and payloads): written to the socket or stream, or flushed into
    /// an <see cref="IDuplexPipe"/>'s writer.</summary>
    public long BytesSent => _transport.WritesDirectly ? _sender.BytesFlushed : _transport.BytesSent;

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

        return new FramedConnection(new StreamTransportIO(stream, socket: null), directOutput: null, leaveOpen, codec, options);
    }

    /// <summary>Frames a connected <paramref name="socket"/>: receives and sends go straight to the socket (zero-byte receives
    /// while idle, gathered sends).</summary>
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

        return new FramedConnection(new SocketTransportIO(socket, leaveOpen), directOutput: null, leaveOpen, codec, options);
    }

    /// <summary>Frames an existing duplex pipe, e.g. Kestrel's <c>ConnectionContext.Transport</c>. Frames are written straight
    /// into the pipe's writer (its own backpressure applies; <see cref="FramedConnectionOptions.MaxBufferedSendBytes"/> does
    /// not). The pipe's input is read eagerly and copied once into the connection's pool memory, so that a transport that
    /// faults its pipe (a <see cref="Pipe"/> throws the writer's exception before the bytes it buffered) loses no frame it
    /// delivered.</summary>
    /// <param name="transport">The duplex pipe.</param>
    /// <param name="codec">The header format.</param>
    /// <param name="options">Read limits and the memory pool; <see langword="null"/> for the defaults.</param>
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

        return new FramedConnection(new PipeReaderTransportIO(transport), transport.Output, leaveOpen: false, codec, options);
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

    /// <summary>Reads the next frame. See <see cref="FrameReader.ReadFrameAsync(System.Threading.CancellationToken)"/>: the frame is valid until the next read.</summary>
    /// <param name="cancellationToken">Cancels the wait; nothing is consumed.</param>
    /// <returns>The frame, or <see cref="FrameReadResult.IsCompleted"/> when the peer closed between two frames.</returns>
    /// <exception cref="FrameException">The peer sent a malformed, too large or truncated frame.</exception>
    /// <exception cref="FrameTimeoutException">A timeout of <see cref="FramedConnectionOptions.Reader"/> expired.</exception>
    /// <exception cref="IOException">The transport failed (e.g. the peer reset the connection) after the last complete frame.</exception>
    /// <exception cref="ObjectDisposedException">The connection was disposed (also ends a read waiting when it was).</exception>
    public ValueTask<FrameReadResult> ReadFrameAsync(CancellationToken cancellationToken = default)
    {
        // One reader at a time; the wait is FrameReader's own (one pooled state machine per pending read), which also ends
        // a read waiting when the connection is disposed and reports a transport failure after the last frame.
        ThrowIfDisposed();
        return _reader.ReadFrameAsync(cancellationToken);
    }

    /// <summary>Returns the next frame if the connection has received all of it, without waiting: a frame buffered by the
    /// last read or among the bytes received since (every byte counted in <see cref="BytesReceived"/>), so that a drain
    /// (a graceful shutdown's) gets every whole frame received. See <see cref="FrameReader.TryReadFrame(out Frame)"/>.</summary>
    /// <param name="frame">The frame, valid until the next read.</param>
    /// <returns><see langword="true"/> if a frame was returned.</returns>
    /// <exception cref="FrameException">The peer sent a malformed or too large frame.</exception>
    /// <exception cref="ObjectDisposedException">The connection was disposed.</exception>
    public bool TryReadFrame(out Frame frame)
    {
        ThrowIfDisposed();
        return _reader.TryReadReceivedFrame(out frame);
    }

    /// <summary>Returns the next received frame as spans if it lies in one block of memory, without waiting (see
    /// <see cref="FrameReader.TryReadFrame(out ReadOnlySpan{byte}, out ReadOnlySpan{byte})"/>: the fastest way to drain
    /// received frames, those buffered by the last read and those received since; split frames and waits go through
    /// <see cref="ReadFrameAsync(System.Threading.CancellationToken)"/> or <see cref="TryReadFrame(out Frame)"/>).</summary>
    /// <param name="header">The header, valid until the next read.</param>
    /// <param name="payload">The payload, valid until the next read.</param>
    /// <returns><see langword="true"/> if a frame was returned.</returns>
    /// <exception cref="FrameException">The peer sent a malformed or too large frame.</exception>
    /// <exception cref="ObjectDisposedException">The connection was disposed.</exception>
    public bool TryReadFrame(out ReadOnlySpan<byte> header, out ReadOnlySpan<byte> payload)
    {
        ThrowIfDisposed();
        return _reader.TryReadReceivedFrame(out header, out payload);
    }

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

    /// <summary>Reads every frame until the peer closes, as an async sequence.</summary>
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

    /// <summary>Reads and deserializes every message until the peer closes, as an async sequence.</summary>
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

    /// <summary>Makes the pending (or next) read return <see cref="FrameReadResult.IsCanceled"/>, consuming nothing.</summary>
    public void CancelPendingRead() => _reader.CancelPendingRead();

    /// <summary>Sends one frame. Safe to call from many tasks at once; see the remarks of <see cref="FramedConnection"/>.</summary>
    /// <param name="payload">The payload; copied into the connection's buffers by the time the returned task completes (at once
    /// unless earlier frames are waiting for buffer space): do not change or return its memory before then.</param>
    /// <param name="cancellationToken">Cancels a send still queued behind backpressure: it then throws
    /// <see cref="OperationCanceledException"/> and wrote nothing. A send that returns normally wrote its whole frame, which
    /// will be sent in call order.</param>
    /// <returns>A task that completes when the frame is written into the connection's buffer in call order and the send
    /// buffer is under its bound.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The payload does not fit the codec's header; nothing was written.</exception>
    /// <exception cref="IOException">The connection can no longer send (the peer is gone or the transport failed).</exception>
    /// <exception cref="InvalidOperationException"><see cref="CompleteSendingAsync"/> was called.</exception>
    /// <exception cref="ObjectDisposedException">The connection was disposed.</exception>
    /// <exception cref="InvalidOperationException">The codec's header carries bytes besides the length that only the caller
    /// knows (a type byte, a prefix): use <see cref="SendAsync(ReadOnlyMemory{byte}, ReadOnlyMemory{byte}, CancellationToken)"/>.</exception>
    public ValueTask SendAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default)
    {
        SendFraming framing = _sendFraming;
        framing.Check(header: false, payload.Length);
        return SendCoreAsync((payload, framing), static (FrameWriter writer, in (ReadOnlyMemory<byte> Payload, SendFraming Framing) state) =>
        {
            state.Framing.ApplyTo(writer);
            writer.Write(state.Payload.Span);
        }, cancellationToken);
    }

    /// <summary>Sends one frame whose fixed header carries more than the length (a type byte, an opcode): see
    /// <see cref="FrameWriter.Write(ReadOnlySpan{byte}, ReadOnlySpan{byte})"/>. Thread-safe like
    /// <see cref="SendAsync(ReadOnlyMemory{byte}, CancellationToken)"/>.</summary>
    /// <param name="header">Every header byte; the codec fills in the length field.</param>
    /// <param name="payload">The payload.</param>
    /// <param name="cancellationToken">Cancels a send still queued behind backpressure (it then wrote nothing).</param>
    /// <returns>A task that completes when the frame is buffered.</returns>
    /// <exception cref="ArgumentException"><paramref name="header"/> has the wrong length.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The payload is over <see cref="MaxSendFrameLength"/> or the codec's limit.</exception>
    public ValueTask SendAsync(ReadOnlyMemory<byte> header, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default)
        => SendFramedAsync(_sendFraming, header, payload, cancellationToken);

    /// <summary>Sends one frame with <paramref name="codec"/> instead of <see cref="SendCodec"/> (a startup message framed
    /// differently from the messages after it), in call order with every other send.</summary>
    /// <param name="codec">The header format of this one frame.</param>
    /// <param name="header">The header bytes the codec needs from the caller (see
    /// <see cref="FrameWriter.Write(ReadOnlySpan{byte}, ReadOnlySpan{byte})"/>), or empty when it needs none.</param>
    /// <param name="payload">The payload.</param>
    /// <param name="cancellationToken">Cancels a send still queued behind backpressure (it then wrote nothing).</param>
    /// <returns>A task that completes when the frame is buffered.</returns>
    /// <exception cref="InvalidOperationException">The codec needs header bytes and <paramref name="header"/> is empty.</exception>
    public ValueTask SendAsync(IFrameCodec codec, ReadOnlyMemory<byte> header, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default)
        => SendFramedAsync(new SendFraming(codec ?? throw new ArgumentNullException(nameof(codec)), _sendFraming.MaxFrameLength), header, payload, cancellationToken);

    private ValueTask SendFramedAsync(SendFraming framing, ReadOnlyMemory<byte> header, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        framing.Check(!header.IsEmpty, payload.Length);
        return SendCoreAsync((header, payload, framing), static (FrameWriter writer, in (ReadOnlyMemory<byte> Header, ReadOnlyMemory<byte> Payload, SendFraming Framing) state) =>
        {
            state.Framing.ApplyTo(writer);
            if (state.Header.IsEmpty)
            {
                writer.Write(state.Payload.Span);
            }
            else
            {
                writer.Write(state.Header.Span, state.Payload.Span);
            }
        }, cancellationToken);
    }

    /// <summary>Sends raw bytes, without a header, in call order with the frames: a connection preface (HTTP/2's
    /// <c>PRI * HTTP/2.0…</c>), a protocol header (AMQP's <c>AMQP\0\0\x09\x01</c>), a one-byte reply. Thread-safe.</summary>
    /// <param name="bytes">The bytes, sent as they are.</param>
    /// <param name="cancellationToken">Cancels a send still queued behind backpressure (it then wrote nothing).</param>
    /// <returns>A task that completes when the bytes are buffered.</returns>
    public ValueTask SendRawAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken = default)
        => SendCoreAsync(bytes, static (FrameWriter writer, in ReadOnlyMemory<byte> state) => writer.WriteRaw(state.Span), cancellationToken);

    /// <summary>Reads one frame with <paramref name="codec"/> instead of <see cref="ReceiveCodec"/> (see
    /// <see cref="FrameReader.ReadFrameAsync(IFrameCodec, CancellationToken)"/>).</summary>
    /// <param name="codec">The header format of this one frame.</param>
    /// <param name="cancellationToken">Cancels the wait for bytes; nothing is consumed.</param>
    /// <returns>The frame, valid until the next read, or the end of the stream, or a cancelled read.</returns>
    public ValueTask<FrameReadResult> ReadFrameAsync(IFrameCodec codec, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        return _reader.ReadFrameAsync(codec, cancellationToken);
    }

    /// <summary>Reads exactly <paramref name="count"/> raw bytes in order with the frames (see
    /// <see cref="FrameReader.ReadExactlyAsync"/>).</summary>
    /// <param name="count">How many bytes.</param>
    /// <param name="cancellationToken">Cancels the wait; nothing is consumed.</param>
    /// <returns>The bytes, valid until the next read.</returns>
    public ValueTask<ReadOnlySequence<byte>> ReadExactlyAsync(int count, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        return _reader.ReadExactlyAsync(count, cancellationToken);
    }

    /// <summary>Reads raw bytes up to and including <paramref name="delimiter"/> (see <see cref="FrameReader.ReadUntilAsync"/>).</summary>
    /// <param name="delimiter">The bytes that end the preamble.</param>
    /// <param name="maxLength">The most bytes the preamble may take, delimiter included.</param>
    /// <param name="cancellationToken">Cancels the wait; nothing is consumed.</param>
    /// <returns>The bytes, delimiter included, valid until the next read.</returns>
    public ValueTask<ReadOnlySequence<byte>> ReadUntilAsync(ReadOnlyMemory<byte> delimiter, int maxLength, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        return _reader.ReadUntilAsync(delimiter, maxLength, cancellationToken);
    }

    /// <summary>Returns the next <paramref name="count"/> bytes without consuming them (see <see cref="FrameReader.PeekAsync"/>).</summary>
    /// <param name="count">How many bytes to look at.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The bytes, valid until the next read.</returns>
    public ValueTask<ReadOnlySequence<byte>> PeekAsync(int count, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        return _reader.PeekAsync(count, cancellationToken);
    }

    /// <summary>
    /// Stops the connection at a frame boundary and hands the transport back, open, with every byte received and not yet
    /// read: to wrap it (an <see cref="System.Net.Security.SslStream"/> for STARTTLS) or give it to other code. Sends called
    /// before are sent first (never shut down: no FIN, no close_notify); then the pending receive is cancelled, which takes no
    /// bytes. No byte is lost or duplicated: <see cref="DetachedTransport.Buffered"/> holds exactly the bytes after the last
    /// frame read, and the transport's next read returns the byte after them. Bytes that arrived before the detach are never
    /// decoded as frames. The connection is then closed (<see cref="ConnectionShutdownReason.Detached"/>); disposing it does
    /// nothing more.
    /// </summary>
    /// <param name="cancellationToken">Cancels the wait for earlier sends to go out; the connection is then disposed.</param>
    /// <returns>The transport and the bytes received after the last frame read.</returns>
    /// <remarks>Call it with no read pending, at the point of the protocol where the peer waits for this side (after a
    /// STARTTLS reply) or has already sent what comes next. Over a <see cref="Socket"/> or a plain
    /// <see cref="NetworkStream"/> no receive that could take bytes is pending at a detach: the connection receives only
    /// once the socket has bytes (or its end) there, and waits with a zero-byte receive that takes none. Over another
    /// <see cref="Stream"/>, the stream's read must be safely cancellable (for an
    /// <see cref="System.Net.Security.SslStream"/>, detach the connection beneath it instead); a read that ignores its
    /// cancellation is waited for at most 2 seconds.</remarks>
    /// <exception cref="InvalidOperationException">A read is pending, or the connection is already being detached.</exception>
    /// <exception cref="IOException">Frames sent before could not be sent: the transport failed.</exception>
    /// <exception cref="ObjectDisposedException">The connection was disposed.</exception>
    public async ValueTask<DetachedTransport> DetachAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        _reader.ThrowIfReadPending();
        if (Interlocked.Exchange(ref _detaching, 1) != 0)
        {
            ThrowHelper.ThrowInvalidOperation("The connection is already being detached.");
        }

        // Sends: none accepted from now on; those accepted before go out, without a shutdown of the send side.
        _sender.MarkDisposed();
        _transport.BeginDetach();
        try
        {
            await _sender.CompleteAsync(cancellationToken, completeWriter: !_transport.WritesDirectly).ConfigureAwait(false);
            if (!_transport.WritesDirectly)
            {
                await TaskHelpers.WaitAsync(_transport.SendLoop, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            await DisposeAsync().ConfigureAwait(false);
            throw;
        }

        if ((_transport.SendFault ?? _sender.Fault) is Exception sendFault)
        {
            await DisposeAsync().ConfigureAwait(false);
            throw new IOException("The connection could not send the frames sent before the detach: " + sendFault.Message, sendFault);
        }

        // Receives: the pending one is cancelled (taking no bytes); what the loop received is in the inbound pipe.
        await _transport.StopForDetachAsync().ConfigureAwait(false);
        byte[] unconsumed = _reader.DetachUnconsumed();
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _lifetime.TrySet(ConnectionShutdownReason.Detached);
            FramingMetrics.ConnectionClosed();
        }

        object wrapped = _transport.Wrapped;
        return new DetachedTransport(unconsumed, wrapped as Stream, wrapped as Socket, wrapped as IDuplexPipe);
    }

    /// <summary>Serializes <paramref name="value"/> straight into the connection's buffer behind a back-patched header (no
    /// intermediate buffer with a fixed-width codec) and sends it as one frame. Thread-safe.</summary>
    /// <typeparam name="T">The message type.</typeparam>
    /// <param name="value">The message.</param>
    /// <param name="serializer">The payload format, e.g. <see cref="Utf8TextSerializer.Instance"/>.</param>
    /// <param name="cancellationToken">Cancels a send still queued behind backpressure (it then wrote nothing).</param>
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
    /// or socket created with <c>leaveOpen</c> but the flush (no FIN: the transport is the caller's).
    /// </summary>
    /// <param name="cancellationToken">Cancels the wait (the shutdown goes on).</param>
    /// <returns>A task that completes when the send side is shut down.</returns>
    /// <exception cref="IOException">Frames accepted earlier could not be sent, or the shutdown failed (the peer is gone or the
    /// transport failed).</exception>
    /// <exception cref="ObjectDisposedException">The connection was disposed.</exception>
    public async Task CompleteSendingAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        await _sender.CompleteAsync(cancellationToken).ConfigureAwait(false);
        if (!_transport.WritesDirectly)
        {
            await TaskHelpers.WaitAsync(_transport.SendLoop, cancellationToken).ConfigureAwait(false);

            // The send loop records its fault instead of throwing it: frames accepted earlier may never have gone out.
            if (_transport.SendFault is Exception fault)
            {
                throw _sender.RecordFault(fault);
            }
        }

        if (_sender.Fault is Exception sendFault)
        {
            throw new IOException(sendFault.Message, sendFault);
        }
    }

    /// <summary>Sends what is buffered (waiting up to 5 seconds for a slow peer), then closes the connection and, unless it was
    /// created with <c>leaveOpen</c>, the stream or socket. A read waiting at that moment throws
    /// <see cref="ObjectDisposedException"/>; so do later reads and sends. <see cref="Closed"/> fires (if it had not) with
    /// <see cref="ConnectionShutdownReason.LocalClose"/>.</summary>
    /// <returns>A task that completes when the connection is closed.</returns>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _lifetime.TrySet(ConnectionShutdownReason.LocalClose);
        FramingMetrics.ConnectionClosed();

        // Sends: none accepted from now on (ObjectDisposedException); those accepted before are sent, within the drain limit.
        _sender.MarkDisposed();
        try
        {
            using var drain = new CancellationTokenSource(s_drainOnDispose);
            await _sender.CompleteAsync(drain.Token).ConfigureAwait(false);
            if (!_transport.WritesDirectly)
            {
                await TaskHelpers.WaitAsync(_transport.SendLoop, drain.Token).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException || ex is IOException || ex is ObjectDisposedException || ex is SocketException)
        {
            // Best effort: the peer is slow or gone; close anyway.
        }

        _sender.Abandon(new ObjectDisposedException(nameof(FramedConnection), "The connection was disposed before the frame could be sent."));

        // Reads: a read waiting now is woken and completes the reader itself, so that no pipe memory is returned under it.
        await TaskHelpers.WaitAtMostAsync(_reader.AbortAsync(Disposed()), s_readExitWait).ConfigureAwait(false);
        await _transport.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>At a clean end of the inbound stream: the transport's failure, if that is what ended it.</summary>
    Exception? IReaderFaultObserver.EndOfStreamFault()
    {
        if (_transport.ReceiveFault is not Exception fault)
        {
            return null;
        }

        return new IOException(
            string.Format(
                System.Globalization.CultureInfo.InvariantCulture,
                "The connection {0} after the last complete frame ({1:N0} frames, {2:N0} bytes received): {3}",
                ShutdownReason == ConnectionShutdownReason.Reset ? "was reset by the peer" : "failed",
                FramesReceived,
                BytesReceived,
                fault.Message),
            fault);
    }

    /// <summary>The reader latched a fault: record why reading ended.</summary>
    void IReaderFaultObserver.OnReaderFault(Exception ex)
    {
        switch (ex)
        {
            case FrameTruncatedException:
                if (_transport.ReceiveFault == null)
                {
                    _lifetime.PeerClosedMidFrame();
                }

                break;
            case FrameTimeoutException:
                _lifetime.TrySet(ConnectionShutdownReason.Timeout);
                break;
            case FrameException:
                _lifetime.TrySet(ConnectionShutdownReason.ProtocolError);
                break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void ThrowIfDisposed()
    {
        if (_disposed != 0)
        {
            ThrowDisposed();
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowDisposed() => throw Disposed();

    private static ObjectDisposedException Disposed()
        => new ObjectDisposedException(nameof(FramedConnection), "The connection was disposed.");

    /// <summary>How many bytes concurrent senders may leave unflushed for the next one: up to 32 KiB, a quarter of the send
    /// buffer bound (the transport's pause threshold is lowered by as much, so the bound still holds).</summary>
    internal static long CoalescingBytes(FramedConnectionOptions options) => Math.Min(32 * 1024, options.MaxBufferedSendBytes / 4);

    private ValueTask SendCoreAsync<TState>(TState state, WriteFrame<TState> write, CancellationToken cancellationToken)
        => _sender.SendAsync(state, write, cancellationToken);

    /// <summary>The codec and send limit a send was called with (immutable: a change makes a new one).</summary>
    private sealed class SendFraming
    {
        // The framing of a codec without a send limit, shared by every connection created with that codec (a connection
        // holds a reference, not a copy: 40 bytes of every idle connection).
        private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<IFrameCodec, SendFraming> s_unlimited = new();

        private readonly bool _requiresHeader;

        public SendFraming(IFrameCodec codec, long maxFrameLength)
        {
            Codec = codec;
            MaxFrameLength = maxFrameLength;
            _requiresHeader = FrameWriter.NeedsCallerHeader(codec, out _);
        }

        public IFrameCodec Codec { get; }

        public long MaxFrameLength { get; }

        public static SendFraming Unlimited(IFrameCodec codec)
            => s_unlimited.GetValue(codec, static c => new SendFraming(c, long.MaxValue));

        /// <summary>Refuses at the call, before anything is queued, a send the writer would refuse.</summary>
        public void Check(bool header, long payloadLength)
        {
            if (_requiresHeader && !header)
            {
                FrameWriter.ThrowHeaderRequired(Codec);
            }

            FrameWriter.ThrowIfOverSendLimit(payloadLength, MaxFrameLength, nameof(FramedConnection.MaxSendFrameLength));
        }

        /// <summary>Makes the writer frame this send as it was called: the codec and limit of that moment.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void ApplyTo(FrameWriter writer)
        {
            if (!ReferenceEquals(writer.Codec, Codec))
            {
                writer.Codec = Codec;
            }

            if (writer.MaxFrameLength != MaxFrameLength)
            {
                writer.MaxFrameLength = MaxFrameLength;
            }
        }
    }
}
