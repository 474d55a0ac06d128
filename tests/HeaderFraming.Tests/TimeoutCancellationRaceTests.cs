using System.Buffers;
using HeaderFraming.Codecs;
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
        var pipe = new ScriptedPipeReader { HoldCancellations = true };
        var reader = new FrameReader(pipe, VarintCodec.Instance, new FrameReaderOptions { IdleTimeout = TimeSpan.FromMilliseconds(50) });

        // The idle timer fires while the read waits; data wins the race and completes the read; the timer's
        // cancellation stays pending in the pipe.
        Task<FrameReadResult> read = reader.ReadFrameAsync().AsTask();
        await pipe.CancelRequested.WaitAsync(s_timeout);
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
}
