using System;
using System.Buffers;
using System.IO.Pipelines;
using System.Threading;
using System.Threading.Tasks;

namespace HeaderFraming.Transports.IO;

/// <summary>
/// The input of an <see cref="IDuplexPipe"/> transport (Kestrel's <c>ConnectionContext.Transport</c>), read eagerly so that
/// its bytes are the connection's before the transport can fault: a <see cref="Pipe"/> whose writer completes with an
/// exception throws it from the next read even while data is buffered, so bytes left in the transport's pipe would be lost.
/// A read is pending on the transport's pipe at every moment the receive loop is not copying; it holds none of the
/// connection's memory while it waits.
/// </summary>
internal sealed class PipeReaderTransportIO(IDuplexPipe transport) : TransportIO
{
    private readonly PipeReader _input = transport.Input;

    public override object Wrapped => transport;
    private ValueTask<ReadResult> _nextRead;
    private bool _readStarted;
    private ReadOnlySequence<byte> _buffer;
    private bool _holding;
    private bool _completed;

    public override bool CanWaitForData => true;

    public override async ValueTask<int> WaitForDataAsync(CancellationToken cancellationToken)
    {
        if (!_holding)
        {
            ValueTask<ReadResult> read = _readStarted ? _nextRead : _input.ReadAsync(cancellationToken);
            _readStarted = false;
            _nextRead = default;
            ReadResult result = await read.ConfigureAwait(false);
            _buffer = result.Buffer;
            _completed = result.IsCompleted || result.IsCanceled;
            _holding = true;
        }

        return (int)Math.Min(_buffer.Length, int.MaxValue);
    }

    /// <summary>For a detach, after the receive loop ended: gives back a buffer held between a wait and a receive
    /// unconsumed, so the transport's next reader gets those bytes.</summary>
    public void ReleaseForDetach()
    {
        if (_holding)
        {
            _holding = false;
            _input.AdvanceTo(_buffer.Start);
        }
    }

    public override async ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        while (true)
        {
            if (!_holding)
            {
                await WaitForDataAsync(cancellationToken).ConfigureAwait(false);
            }

            _holding = false;
            if (_buffer.IsEmpty)
            {
                _input.AdvanceTo(_buffer.End);
                if (_completed)
                {
                    return 0;
                }

                continue;
            }

            int count = (int)Math.Min(_buffer.Length, buffer.Length);
            ReadOnlySequence<byte> copied = _buffer.Slice(0, count);
            copied.CopyTo(buffer.Span);
            _input.AdvanceTo(copied.End);

            // Observe the transport again at once, before the receive loop waits for the application (backpressure): bytes
            // a read has returned stay readable after the transport's writer faults; bytes no read has returned yet do not.
            try
            {
                _nextRead = _input.ReadAsync(cancellationToken);
            }
            catch (Exception ex)
            {
                // A transport that faulted already throws from ReadAsync itself: report it on the next wait, after the
                // bytes copied here.
                _nextRead = new ValueTask<ReadResult>(Task.FromException<ReadResult>(ex));
            }

            _readStarted = true;
            return count;
        }
    }

    public override ValueTask SendAsync(ReadOnlySequence<byte> buffer, CancellationToken cancellationToken)
        => throw new NotSupportedException("An IDuplexPipe transport is written directly.");

    public override ValueTask ShutdownSendAsync() => default;

    public override void Close() => _input.CancelPendingRead();

    /// <summary>Completes the transport's input once the receive loop has stopped.</summary>
    public void Complete() => _input.Complete();
}
