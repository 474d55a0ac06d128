using System.Threading;

namespace HeaderFraming.Transports;

/// <summary>
/// The one home of a connection's end: the first cause recorded wins (<see cref="FramedConnection.ShutdownReason"/>), and
/// recording it fires <see cref="Closed"/> once, on the thread pool, so that no callback of the application runs inside a
/// transport loop or under a lock.
/// </summary>
internal sealed class ConnectionLifetime
{
    private readonly CancellationTokenSource _closed = new CancellationTokenSource();
    private int _reason;

    public ConnectionShutdownReason Reason => (ConnectionShutdownReason)Volatile.Read(ref _reason);

    public CancellationToken Closed => _closed.Token;

    /// <summary>Records why the connection ended unless a cause was recorded already.</summary>
    /// <returns><see langword="true"/> if this was the first cause.</returns>
    public bool TrySet(ConnectionShutdownReason reason)
    {
        if (Interlocked.CompareExchange(ref _reason, (int)reason, (int)ConnectionShutdownReason.None) != (int)ConnectionShutdownReason.None)
        {
            return false;
        }

        ThreadPool.UnsafeQueueUserWorkItem(static state => ((CancellationTokenSource)state!).Cancel(), _closed);
        return true;
    }

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
