using System;
using System.IO;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;

namespace HeaderFraming.Testing;

/// <summary>
/// A duplex stream double with the reset semantics of a Linux socket (and so of a <see cref="NetworkStream"/> over one): the
/// kernel reports a reset (ECONNRESET) to one call only, whichever comes first, and a later receive returns a plain end of
/// stream (0). Here a write always comes first: reads return <c>input</c>, then wait for a write and end with 0, while the
/// write does what <see cref="Outcome"/> says.
/// </summary>
public sealed class ResetOnceStream(ReadOnlyMemory<byte> input, ResetOnceStream.WriteOutcome outcome) : TrickleStream(input)
{
    private readonly TaskCompletionSource _writeStarted = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _writeFailed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _readEnded = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _writeReleased = new(TaskCreationOptions.RunContinuationsAsynchronously);

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

    /// <summary>Lets a <see cref="WriteOutcome.BlockedByAPeerThatClosed"/> write complete (the peer read it after all).</summary>
    public void ReleaseWrite() => _writeReleased.TrySetResult();

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    protected override async ValueTask<int> ReadPastEndAsync(CancellationToken cancellationToken)
    {
        await (Outcome == WriteOutcome.ResetBeforeTheReadEnds ? _writeFailed.Task : _writeStarted.Task).WaitAsync(cancellationToken).ConfigureAwait(false);
        _readEnded.TrySetResult();
        return 0;
    }

    protected override async ValueTask WriteCoreAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken)
    {
        _writeStarted.TrySetResult();
        switch (Outcome)
        {
            case WriteOutcome.ResetBeforeTheReadEnds:
                _writeFailed.TrySetResult();
                throw Reset;
            case WriteOutcome.ResetAfterTheReadEnds:
                await _readEnded.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
                await Task.Delay(50, cancellationToken).ConfigureAwait(false);
                throw Reset;
            default:
                await _writeReleased.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
                break;
        }
    }

    protected override void Dispose(bool disposing)
    {
        _writeReleased.TrySetResult();
        base.Dispose(disposing);
    }
}
