using System.Buffers;
using HeaderFraming.Codecs;
using HeaderFraming.Testing;
using HeaderFraming.Tests.Infrastructure;

namespace HeaderFraming.Tests;

/// <summary>
/// The reader's timeout timer and the user share the pipe's single CancelPendingRead flag. A timer that fires just as data
/// arrives leaves its cancellation pending; a user's CancelPendingRead issued then coalesces with it and must still be
/// returned as <see cref="FrameReadResult.IsCanceled"/>, not mistaken for the timer (which turned it into a timeout, or into
/// a wait of up to a whole timeout period).
/// </summary>
public class TimeoutCancellationRaceTests
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task AUserCancellationCoalescedWithALateTimerCancellationIsReturnedAsCanceled()
    {
        // A fake clock: on the real one a loaded machine could let the idle timer fire again during the third read.
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        var pipe = new ScriptedPipeReader { HoldCancellations = true };
        var reader = new FrameReader(pipe, VarintCodec.Instance, new FrameReaderOptions { IdleTimeout = TimeSpan.FromMilliseconds(50), TimeProvider = time });

        // The idle timer fires while the read waits; data wins the race and completes the read; the timer's
        // cancellation stays pending in the pipe.
        Task<FrameReadResult> read = reader.ReadFrameAsync().AsTask();
        Task timerCanceled = pipe.CancelRequested;
        time.Advance(TimeSpan.FromMilliseconds(60));
        await timerCanceled.WaitAsync(s_timeout);
        pipe.Deliver([1, 42]);
        FrameReadResult first = await read.WaitAsync(s_timeout);
        Assert.True(first.HasFrame);
        pipe.HoldCancellations = false;

        // The user cancels the next read (coalescing with the stale timer cancellation in the pipe).
        reader.CancelPendingRead();
        FrameReadResult second = await reader.ReadFrameAsync().AsTask().WaitAsync(s_timeout);
        Assert.True(second.IsCanceled);

        // Nothing was lost: the next frame still arrives.
        Task<FrameReadResult> third = reader.ReadFrameAsync().AsTask();
        pipe.Deliver([2, 7, 8]);
        Assert.Equal(new byte[] { 7, 8 }, (await third.WaitAsync(s_timeout)).Frame.Payload.ToArray());
    }

    [Fact]
    public async Task ATimerCancellationThatLandsInTheNextWaitIsStillTheTimersAndNeverReturnedAsCanceled()
    {
        // The repro of a flaky SlowPeerTests run: a header trickled byte by byte, a frame timeout firing as a byte arrived.
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        var pipe = new ScriptedPipeReader { HoldCancellations = true };
        var reader = new FrameReader(pipe, BinaryLengthCodec.UInt32BigEndian,
            new FrameReaderOptions { FrameTimeout = TimeSpan.FromMilliseconds(250), TimeProvider = time });

        // Two of the four header bytes: the reader waits again, the frame's timer armed.
        Task<FrameReadResult> read = reader.ReadFrameAsync().AsTask();
        pipe.Deliver([0, 0]);
        await Poll.UntilAsync(() => pipe.ReadCount == 2, s_timeout, () => $"the reader read the pipe twice (it has {pipe.ReadCount} times)");

        // The timer fires; its cancellation lands just after the third byte completed that wait, so the pipe keeps it
        // for the reader's next wait, which the reader starts because the header is still incomplete.
        Task timerCanceled = pipe.CancelRequested;
        time.Advance(TimeSpan.FromMilliseconds(300));
        await timerCanceled.WaitAsync(s_timeout);
        pipe.Deliver([0]);

        FrameTimeoutException error = await Assert.ThrowsAsync<FrameTimeoutException>(() => read.WaitAsync(s_timeout));
        Assert.Equal(FrameTimeoutReason.Frame, error.Reason);
        Assert.Equal(3, error.ReceivedBytes);
        Assert.Equal(3, pipe.ReadCount);
    }

}
