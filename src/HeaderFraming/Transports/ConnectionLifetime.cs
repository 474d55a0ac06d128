using System.Threading;

namespace HeaderFraming.Transports;

/// <summary>
/// The one home of a connection's end: the first cause recorded wins (<see cref="FramedConnection.ShutdownReason"/>), and
/// recording it fires <see cref="Closed"/> once, on the thread pool, so that no callback of the application runs inside a
/// transport loop or under a lock.
/// </summary>
/// <remarks>The <see cref="CancellationTokenSource"/> behind <see cref="Closed"/> is made when <see cref="Closed"/> is first
/// asked for: a server that never watches it holds none per connection.</remarks>
internal sealed class ConnectionLifetime
{
    private CancellationTokenSource? _closed;
    private int _reason;

    public ConnectionShutdownReason Reason => (ConnectionShutdownReason)Volatile.Read(ref _reason);

    public CancellationToken Closed => (Volatile.Read(ref _closed) ?? CreateClosed()).Token;

    /// <summary>Records why the connection ended unless a cause was recorded already.</summary>
    /// <returns><see langword="true"/> if this was the first cause.</returns>
    public bool TrySet(ConnectionShutdownReason reason)
    {
        if (Interlocked.CompareExchange(ref _reason, (int)reason, (int)ConnectionShutdownReason.None) != (int)ConnectionShutdownReason.None)
        {
            return false;
        }

        // A source made before the cause was recorded is cancelled here; one made after it, by CreateClosed. Both
        // interlocked operations are full fences, so at least one of the two sees the other (a second Cancel does nothing).
        if (Volatile.Read(ref _closed) is CancellationTokenSource closed)
        {
            CancelOnThreadPool(closed);
        }

        return true;
    }

    private CancellationTokenSource CreateClosed()
    {
        var created = new CancellationTokenSource();
        CancellationTokenSource? existing = Interlocked.CompareExchange(ref _closed, created, null);
        if (existing != null)
        {
            created.Dispose();
            return existing;
        }

        // The cause may have been recorded before this source was published, unseen by TrySet: cancel it here, at once, so
        // that a token asked for after the end is already cancelled. Nobody has registered on a source this new (but for a
        // caller racing this one, whose callback then runs on this application thread, never in a transport loop).
        if (Reason != ConnectionShutdownReason.None)
        {
            created.Cancel();
        }

        return created;
    }

    private static void CancelOnThreadPool(CancellationTokenSource source)
        => ThreadPool.UnsafeQueueUserWorkItem(static state => ((CancellationTokenSource)state!).Cancel(), source);

    /// <summary>The reader found the frame that the peer's close cut short: <see cref="ConnectionShutdownReason.PeerClosed"/>
    /// becomes <see cref="ConnectionShutdownReason.PeerClosedMidFrame"/> (the one refinement of a recorded cause).</summary>
    public void PeerClosedMidFrame()
    {
        if (!TrySet(ConnectionShutdownReason.PeerClosedMidFrame))
        {
            Interlocked.CompareExchange(ref _reason, (int)ConnectionShutdownReason.PeerClosedMidFrame, (int)ConnectionShutdownReason.PeerClosed);
        }
    }
}
