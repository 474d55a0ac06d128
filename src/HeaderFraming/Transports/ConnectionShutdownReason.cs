namespace HeaderFraming;

/// <summary>Why a <see cref="FramedConnection"/> stopped: <see cref="FramedConnection.ShutdownReason"/>, set once, when
/// <see cref="FramedConnection.Closed"/> fires.</summary>
public enum ConnectionShutdownReason
{
    /// <summary>The connection is open: nothing has ended it yet.</summary>
    None = 0,

    /// <summary>The peer closed its side (TCP FIN, TLS close_notify, end of stream, a completed pipe). Set when the
    /// transport sees the end; it becomes <see cref="PeerClosedMidFrame"/> if the reader then finds a frame cut short.</summary>
    PeerClosed,

    /// <summary>The peer closed its side in the middle of a frame: the reader raised <see cref="FrameTruncatedException"/>
    /// after every complete frame.</summary>
    PeerClosedMidFrame,

    /// <summary>The peer reset the connection (TCP RST, <c>ECONNRESET</c>, <c>EPIPE</c>, Kestrel's
    /// <c>ConnectionResetException</c>). Every complete frame received before the reset is still delivered.</summary>
    Reset,

    /// <summary>The transport failed in another way (an I/O error of the stream or socket, a faulted pipe).</summary>
    TransportError,

    /// <summary>The peer sent a malformed or too large frame (<see cref="FrameFormatException"/>,
    /// <see cref="FrameTooLargeException"/>): the connection can still send, but no longer read.</summary>
    ProtocolError,

    /// <summary>A timeout of <see cref="FrameReaderOptions"/> expired (<see cref="FrameTimeoutException"/>).</summary>
    Timeout,

    /// <summary>This side disposed the connection (<see cref="FramedConnection.DisposeAsync"/>).</summary>
    LocalClose,

    /// <summary>This side detached the connection (<see cref="FramedConnection.DetachAsync"/>): the transport was handed back,
    /// open, with every byte received and not yet read.</summary>
    Detached,
}
