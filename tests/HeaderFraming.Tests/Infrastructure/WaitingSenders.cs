using System.Diagnostics;

namespace HeaderFraming.Tests.Infrastructure;

/// <summary>
/// Senders that loop on a connection's <c>SendAsync</c> against a peer that does not read: each sender's latest send is kept,
/// so a test can wait until every one is truly pending (and the bytes stopped moving) rather than guessing from a pause in
/// progress, which a loaded machine produces on its own.
/// </summary>
internal sealed class WaitingSenders
{
    private readonly Task?[] _sends;

    /// <summary>Tracks <paramref name="count"/> senders, numbered from 0.</summary>
    public WaitingSenders(int count) => _sends = new Task?[count];

    /// <summary>Awaits <paramref name="send"/> for sender <paramref name="sender"/>, kept as that sender's latest send: it
    /// counts as waiting for exactly as long as the send itself is pending (not until the sender's code runs on).</summary>
    public async ValueTask AwaitAsync(int sender, ValueTask send)
    {
        Task task = send.AsTask();
        Volatile.Write(ref _sends[sender], task);
        await task;
    }

    /// <summary>Every sender's latest send, as they are now.</summary>
    public Task[] Sends()
    {
        var sends = new Task[_sends.Length];
        for (int i = 0; i < sends.Length; i++)
        {
            sends[i] = Volatile.Read(ref _sends[i]) ?? Task.CompletedTask;
        }

        return sends;
    }

    /// <summary>Returns every sender's pending send once each has been the same pending send for 100 ms with
    /// <paramref name="bytesSent"/> unchanged (the kernel's buffers are full too); fails the test after
    /// <paramref name="limit"/>, saying how many were waiting.</summary>
    public async Task<Task[]> UntilAllWaitAsync(Func<long> bytesSent, TimeSpan limit)
    {
        var waited = Stopwatch.StartNew();
        while (true)
        {
            Task[] before = Sends();
            if (before.All(s => !s.IsCompleted))
            {
                long sentBefore = bytesSent();
                await Task.Delay(100);
                Task[] after = Sends();
                if (after.SequenceEqual(before) && after.All(s => !s.IsCompleted) && bytesSent() == sentBefore)
                {
                    return after;
                }
            }
            else
            {
                await Task.Delay(10);
            }

            if (waited.Elapsed > limit)
            {
                int waiting = Sends().Count(s => !s.IsCompleted);
                Assert.Fail($"after {limit.TotalSeconds:N0} s only {waiting} of {_sends.Length} senders were waiting (bytes sent {bytesSent():N0})");
            }
        }
    }
}
