using System;
using System.Buffers;
using HeaderFraming.Internal;

namespace HeaderFraming;

/// <summary>Buffering, backpressure and read limits of a <see cref="FramedConnection"/>.</summary>
public sealed class FramedConnectionOptions
{
    /// <summary>The default <see cref="SegmentSize"/>: 64 KiB.</summary>
    public const int DefaultSegmentSize = 64 * 1024;

    /// <summary>The default <see cref="MaxBufferedSendBytes"/>: 1 MiB.</summary>
    public const long DefaultMaxBufferedSendBytes = 1024 * 1024;

    /// <summary>The default <see cref="MaxBufferedReceiveBytes"/>: 128 KiB.</summary>
    public const long DefaultMaxBufferedReceiveBytes = 128 * 1024;

    private int _segmentSize = DefaultSegmentSize;
    private long _maxBufferedSendBytes = DefaultMaxBufferedSendBytes;
    private long _maxBufferedReceiveBytes = DefaultMaxBufferedReceiveBytes;

    /// <summary>The reader's limits and timeouts: <see cref="FrameReaderOptions.MaxFrameLength"/> (default 8 MiB),
    /// <see cref="FrameReaderOptions.IdleTimeout"/> and <see cref="FrameReaderOptions.FrameTimeout"/> (default off).</summary>
    public FrameReaderOptions Reader { get; } = new FrameReaderOptions();

    /// <summary>
    /// The largest receive and the size of the send buffer's segments, in bytes (default 64 KiB, at least 4 KiB). Receives
    /// start at 4 KiB and double each time one fills its buffer, up to this size, and halve again when a receive uses less
    /// than a quarter: a busy connection reads 64 KiB at a time (which measurably beats 4 KiB for many small frames and for
    /// large frames alike: fewer system calls, fewer segment boundaries), a chatty one holds 4 KiB. A pool whose largest
    /// block is smaller (<see cref="MemoryPool{T}.MaxBufferSize"/>, 4 KiB for Kestrel's) bounds it further.
    /// </summary>
    public int SegmentSize
    {
        get => _segmentSize;
        set
        {
            if (value < 4096 || value > 16 * 1024 * 1024)
            {
                ThrowHelper.ThrowArgumentOutOfRange(nameof(value), value, "SegmentSize must be 4 KiB to 16 MiB.");
            }

            _segmentSize = value;
        }
    }

    /// <summary>
    /// Where the connection's receive and send buffers come from, or <see langword="null"/> (the default) for the library's
    /// shared pool: blocks of 4 KiB to 1 MiB that are kept for reuse once returned (and trimmed after 10 seconds unused), so
    /// a server's connections stop allocating once it has reached its peak. Pass Kestrel's pool
    /// (<c>ConnectionContext.Features</c>' <c>IMemoryPoolFeature</c>) or one pool shared by a server's connections. Blocks
    /// go back to the pool as soon as they are consumed: an idle connection holds none.
    /// </summary>
    public MemoryPool<byte>? MemoryPool { get; set; }

    /// <summary>
    /// Wait for data with a zero-byte read before taking a receive buffer from the pool (default <see langword="true"/>), as
    /// Kestrel's <c>SocketTransportOptions.WaitForDataBeforeAllocatingBuffer</c> does: an idle connection then holds no
    /// receive buffer. Applies to a <see cref="System.Net.Sockets.Socket"/>, a <see cref="System.Net.Sockets.NetworkStream"/>,
    /// an <see cref="System.Net.Security.SslStream"/> on .NET 8+ and an <see cref="System.IO.Pipelines.IDuplexPipe"/>; other
    /// streams do not honour zero-byte reads (they return at once) and always read with a buffer. Turn it off to save the
    /// extra call per receive on a connection that is never idle. Over a <see cref="System.Net.Sockets.Socket"/> or a plain
    /// <see cref="System.Net.Sockets.NetworkStream"/> the connection receives only once bytes (or the end of the stream)
    /// are there, whatever this says: it asks the socket first (FIONREAD, a poll) and waits with a zero-byte receive when
    /// nothing is there, because a cancelled socket receive can stay pending on Linux and take the bytes meant for the
    /// socket's next owner after <see cref="FramedConnection.DetachAsync"/> or a left-open dispose. Off, such a connection
    /// skips the zero-byte receive while bytes keep arriving, and holds no buffer while idle.
    /// </summary>
    public bool WaitForDataBeforeAllocatingBuffer { get; set; } = true;

    /// <summary>
    /// Backpressure on sends: once this many bytes are buffered and not yet handed to the transport, senders wait until
    /// half of them have been (default 1 MiB). A single frame larger than the bound is still accepted whole, so the most
    /// a connection buffers for sending is this bound plus one frame. Set it lower for many connections, higher for
    /// bulk transfer over high-latency links.
    /// </summary>
    public long MaxBufferedSendBytes
    {
        get => _maxBufferedSendBytes;
        set
        {
            if (value < 1)
            {
                ThrowHelper.ThrowArgumentOutOfRange(nameof(value), value, "MaxBufferedSendBytes must be positive.");
            }

            _maxBufferedSendBytes = value;
        }
    }

    /// <summary>
    /// Backpressure on receives: once this many bytes are received and not yet consumed by reads, the connection stops
    /// reading the transport until half of them have been (default 128 KiB; the kernel's socket buffer keeps receiving
    /// meanwhile, and TCP flow control slows the peer). A frame larger than the bound is still received whole: a read
    /// waiting for a started frame asks for all of it, and the bound never stops a read short of the frame it waits for.
    /// So a slow application holds at most this bound, or one frame, per connection. Set it higher for bulk transfer over
    /// high-latency links.
    /// </summary>
    public long MaxBufferedReceiveBytes
    {
        get => _maxBufferedReceiveBytes;
        set
        {
            if (value < 4096)
            {
                ThrowHelper.ThrowArgumentOutOfRange(nameof(value), value, "MaxBufferedReceiveBytes must be at least 4 KiB.");
            }

            _maxBufferedReceiveBytes = value;
        }
    }
}
