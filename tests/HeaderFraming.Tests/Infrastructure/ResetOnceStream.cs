using System.Net.Sockets;

namespace HeaderFraming.Tests.Infrastructure;

/// <summary>
/// A duplex stream double with the reset semantics of a Linux socket (and so of a <see cref="NetworkStream"/> over one): the
/// kernel reports a reset (ECONNRESET) to one call only, whichever comes first, and a later receive returns a plain end of
/// stream (0). Here a write always comes first: reads return <c>input</c>, then wait for a write and end with 0, while the
/// write does what <see cref="Outcome"/> says.
/// </summary>
public sealed class ResetOnceStream(ReadOnlyMemory<byte> input, ResetOnceStream.WriteOutcome outcome) : Stream
{
    private readonly TaskCompletionSource _writeStarted = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _writeFailed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _readEnded = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _writeReleased = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _position;
    private int _disposed;

    public enum WriteOutcome
    {
        /// <summary>The write fails with the reset at once; the read then ends with 0.</summary>
        ResetBeforeTheReadEnds,

        /// <summary>The write is in flight when the read ends with 0, and fails with the reset 50 ms after that: the kernel
        /// gave it the reset first, but the thread that made it had not run on yet.</summary>
        ResetAfterTheReadEnds,

        /// <summary>No reset: the peer closed its side and does not read, so the write is in flight when the read ends, and
        /// stays there until <see cref="ReleaseWrite"/>.</summary>
        BlockedByAPeerThatClosed,
    }

    public WriteOutcome Outcome { get; } = outcome;

    /// <summary>The exception the write fails with: what <see cref="NetworkStream"/> throws for ECONNRESET.</summary>
    public IOException Reset { get; } = new("Unable to write data to the transport connection: Connection reset by peer.", new SocketException((int)SocketError.ConnectionReset));

    public bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    /// <summary>Lets a <see cref="WriteOutcome.BlockedByAPeerThatClosed"/> write complete (the peer read it after all).</summary>
    public void ReleaseWrite() => _writeReleased.TrySetResult();

    public override bool CanRead => true;

    public override bool CanWrite => true;

    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        if (_position < input.Length)
        {
            int n = Math.Min(buffer.Length, input.Length - _position);
            input.Slice(_position, n).CopyTo(buffer);
            _position += n;
            return n;
        }

        await (Outcome == WriteOutcome.ResetBeforeTheReadEnds ? _writeFailed.Task : _writeStarted.Task).WaitAsync(cancellationToken);
        _readEnded.TrySetResult();
        return 0;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        _writeStarted.TrySetResult();
        switch (Outcome)
        {
            case WriteOutcome.ResetBeforeTheReadEnds:
                _writeFailed.TrySetResult();
                throw Reset;
            case WriteOutcome.ResetAfterTheReadEnds:
                await _readEnded.Task.WaitAsync(cancellationToken);
                await Task.Delay(50, cancellationToken);
                throw Reset;
            default:
                await _writeReleased.Task.WaitAsync(cancellationToken);
                break;
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override void Flush()
    {
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        Volatile.Write(ref _disposed, 1);
        _writeReleased.TrySetResult();
        base.Dispose(disposing);
    }
}
