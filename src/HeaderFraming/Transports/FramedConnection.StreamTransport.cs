using System;
using System.Buffers;
using System.Diagnostics;
using System.IO;
using System.IO.Pipelines;
using System.Net.Security;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Threading;
using System.Threading.Tasks;

namespace HeaderFraming;

public sealed partial class FramedConnection
{
    /// <summary>
    /// Drives a <see cref="Stream"/> with two loops: one reads the stream into the inbound pipe, one writes the outbound pipe
    /// to the stream. Callers' cancellation tokens and read timeouts only ever touch the pipes, never a stream operation, so
    /// no stream read or write is abandoned half-way whatever the stream type (an <see cref="SslStream"/> included).
    /// </summary>
    private sealed class StreamTransport
    {
        private static readonly TimeSpan s_loopExitWait = TimeSpan.FromSeconds(2);

        private readonly Stream _stream;
        private readonly Socket? _socket;
        private readonly bool _leaveOpen;
        private readonly Pipe _inbound;
        private readonly Pipe _outbound;
        private readonly int _readSizeHint;
        private readonly CancellationTokenSource _abort = new CancellationTokenSource();

        public StreamTransport(Stream stream, Socket? socket, bool leaveOpen, FramedConnectionOptions options)
        {
            _stream = stream;
            _socket = socket;
            _leaveOpen = leaveOpen;
            int segment = options.SegmentSize;
            _readSizeHint = segment / 4;

            // Inbound backpressure: stop reading the socket when the application falls behind (1 MiB, or 4 segments). A frame
            // larger than that cannot deadlock: FrameReader waits for a started frame with ReadAtLeastAsync(frame length),
            // and a Pipe does not pause its writer below the size its reader waits for. The bound stays small so that a
            // fast peer cannot make a slow application buffer MaxFrameLength per connection, and pooled segments are reused.
            long inboundPause = Math.Max(4L * segment, 1024 * 1024);
            _inbound = new Pipe(new PipeOptions(
                pool: null,
                readerScheduler: PipeScheduler.ThreadPool,
                writerScheduler: PipeScheduler.Inline,
                pauseWriterThreshold: inboundPause,
                resumeWriterThreshold: inboundPause / 2,
                minimumSegmentSize: segment,
                useSynchronizationContext: false));

            // Senders may leave up to CoalescingBytes unflushed (invisible to the pipe): pause that much earlier, so that the
            // bytes accepted and not yet sent stay within MaxBufferedSendBytes plus one frame.
            long outboundPause = Math.Max(1, options.MaxBufferedSendBytes - CoalescingBytes(options));
            _outbound = new Pipe(new PipeOptions(
                pool: null,
                readerScheduler: PipeScheduler.ThreadPool,
                writerScheduler: PipeScheduler.ThreadPool,
                pauseWriterThreshold: outboundPause,
                resumeWriterThreshold: Math.Max(1, outboundPause / 2),
                minimumSegmentSize: segment,
                useSynchronizationContext: false));
            ReceiveLoop = Task.CompletedTask;
            SendLoop = Task.CompletedTask;
        }

        public PipeReader Input => _inbound.Reader;

        public PipeWriter Output => _outbound.Writer;

        public Task ReceiveLoop { get; private set; }

        public Task SendLoop { get; private set; }

        /// <summary>Why the receive loop stopped early (e.g. a reset), or <see langword="null"/> after a clean end of stream.</summary>
        public Exception? ReceiveFault { get; private set; }

        /// <summary>Why the send loop stopped early, or <see langword="null"/>.</summary>
        public Exception? SendFault { get; private set; }

        /// <summary>Bytes handed to the transport so far (for tests of backpressure).</summary>
        public long BytesSent => Interlocked.Read(ref _bytesSent);

        private long _bytesSent;

        public void Start()
        {
            ReceiveLoop = Task.Run(RunReceiveLoopAsync);
            SendLoop = Task.Run(RunSendLoopAsync);
        }

        public async ValueTask DisposeAsync()
        {
            _abort.Cancel();
            _outbound.Reader.CancelPendingRead();
            _inbound.Writer.CancelPendingFlush();
            if (!_leaveOpen)
            {
                _stream.Dispose();
            }

            try
            {
                await Task.WhenAny(Task.WhenAll(ReceiveLoop, SendLoop), Task.Delay(s_loopExitWait)).ConfigureAwait(false);
            }
            finally
            {
                _outbound.Writer.Complete();
                _inbound.Reader.Complete();
                _abort.Dispose();
            }
        }

        private async Task RunReceiveLoopAsync()
        {
            PipeWriter writer = _inbound.Writer;
            try
            {
                while (true)
                {
                    Memory<byte> memory = writer.GetMemory(_readSizeHint);
                    int read = await ReadAsync(_stream, memory, _abort.Token).ConfigureAwait(false);
                    if (read == 0)
                    {
                        break;
                    }

                    writer.Advance(read);
                    FlushResult flush = await writer.FlushAsync().ConfigureAwait(false);
                    if (flush.IsCompleted || flush.IsCanceled)
                    {
                        break;
                    }
                }
            }
            catch (Exception) when (_abort.IsCancellationRequested)
            {
                // Disposed: the reader is going away.
            }
            catch (Exception ex)
            {
                // A reset or a failed read: end the inbound stream cleanly so that every frame already received is still
                // delivered; the connection reports the fault after the last frame (or as a truncated frame).
                ReceiveFault = ex;
            }

            writer.Complete();
        }

        private async Task RunSendLoopAsync()
        {
            PipeReader reader = _outbound.Reader;
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
                        // Everything buffered goes out now: frames from many senders leave in one write (coalescing).
                        foreach (ReadOnlyMemory<byte> segment in buffer)
                        {
                            await WriteAsync(_stream, segment, _abort.Token).ConfigureAwait(false);
                        }

                        if (_stream is not NetworkStream)
                        {
                            await _stream.FlushAsync(_abort.Token).ConfigureAwait(false);
                        }

                        Interlocked.Add(ref _bytesSent, buffer.Length);
                    }

                    reader.AdvanceTo(buffer.End);
                    if (result.IsCompleted)
                    {
                        break;
                    }
                }

                if (!_abort.IsCancellationRequested && !_leaveOpen)
                {
                    await ShutdownSendAsync().ConfigureAwait(false);
                }

                reader.Complete();
            }
            catch (Exception ex)
            {
                SendFault = _abort.IsCancellationRequested ? new ObjectDisposedException(nameof(FramedConnection)) : ex;
                reader.Complete(SendFault);
            }
        }

        private async Task ShutdownSendAsync()
        {
            Stream stream = _stream;
#if NET
            if (stream is SslStream ssl)
            {
                // close_notify: a TLS peer reads it as the end of the stream. The TCP connection under it is not
                // reachable from here (AuthenticatedStream.InnerStream is protected); it closes on dispose.
                await ssl.ShutdownAsync().ConfigureAwait(false);
            }

            Socket? socket = _socket ?? (stream as NetworkStream)?.Socket;
#else
            await Task.CompletedTask.ConfigureAwait(false);
            Socket? socket = _socket;
#endif
            if (socket != null && socket.Connected)
            {
                socket.Shutdown(SocketShutdown.Send);
            }
        }

        private static ValueTask<int> ReadAsync(Stream stream, Memory<byte> memory, CancellationToken cancellationToken)
        {
#if NET
            return stream.ReadAsync(memory, cancellationToken);
#else
            bool isArray = MemoryMarshal.TryGetArray((ReadOnlyMemory<byte>)memory, out ArraySegment<byte> array);
            Debug.Assert(isArray, "Pipe memory from the default pool is array-backed.");
            return new ValueTask<int>(stream.ReadAsync(array.Array!, array.Offset, array.Count, cancellationToken));
#endif
        }

        private static ValueTask WriteAsync(Stream stream, ReadOnlyMemory<byte> memory, CancellationToken cancellationToken)
        {
#if NET
            return stream.WriteAsync(memory, cancellationToken);
#else
            if (MemoryMarshal.TryGetArray(memory, out ArraySegment<byte> array))
            {
                return new ValueTask(stream.WriteAsync(array.Array!, array.Offset, array.Count, cancellationToken));
            }

            return new ValueTask(stream.WriteAsync(memory.ToArray(), 0, memory.Length, cancellationToken));
#endif
        }
    }
}
