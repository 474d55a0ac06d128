using System.Diagnostics;

namespace HeaderFraming.Tests.Infrastructure;

/// <summary>
/// Senders that loop on a connection's <c>SendAsync</c> against a peer that does not read: each flags while its send is
/// pending, so a test can wait until every one is truly waiting (and the bytes stopped moving) rather than guessing from
/// a pause in progress, which a loaded machine produces on its own.
/// </summary>
internal sealed class WaitingSenders
{
    private readonly int[] _pending;

    /// <summary>Tracks <paramref name="count"/> senders, numbered from 0.</summary>
    public WaitingSenders(int count) => _pending = new int[count];

    /// <summary>Awaits <paramref name="send"/> for sender <paramref name="sender"/>, flagged as waiting while it is pending.</summary>
    public async ValueTask AwaitAsync(int sender, ValueTask send)
    {
        if (send.IsCompleted)
        {
            await send;
            return;
        }

        Volatile.Write(ref _pending[sender], 1);
        try
        {
            await send;
        }
        finally
        {
            Volatile.Write(ref _pending[sender], 0);
        }
    }

    /// <summary>Whether every sender's send is pending now.</summary>
    public bool AllWaiting
    {
        get
        {
            for (int i = 0; i < _pending.Length; i++)
            {
                if (Volatile.Read(ref _pending[i]) == 0)
                {
                    return false;
                }
            }

            return true;
        }
    }

    /// <summary>Returns once every sender has been waiting for 100 ms with <paramref name="bytesSent"/> unchanged (the
    /// kernel's buffers are full too); fails the test after <paramref name="limit"/>, saying how many were waiting.</summary>
    public async Task UntilAllWaitAsync(Func<long> bytesSent, TimeSpan limit)
    {
        var waited = Stopwatch.StartNew();
        while (true)
        {
            if (AllWaiting)
            {
                long before = bytesSent();
                await Task.Delay(100);
                if (AllWaiting && bytesSent() == before)
                {
                    return;
                }
            }
            else
            {
                await Task.Delay(10);
            }

            if (waited.Elapsed > limit)
            {
                int waiting = _pending.Count(p => p != 0);
                Assert.Fail($"after {limit.TotalSeconds:N0} s only {waiting} of {_pending.Length} senders were waiting (bytes sent {bytesSent():N0})");
            }
        }
    }
}
