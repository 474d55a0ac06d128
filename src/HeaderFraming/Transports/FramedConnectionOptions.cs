using System;
using HeaderFraming.Internal;

namespace HeaderFraming;

/// <summary>Buffering, backpressure and read limits of a <see cref="FramedConnection"/>.</summary>
public sealed class FramedConnectionOptions
{
    /// <summary>The default <see cref="SegmentSize"/>: 64 KiB.</summary>
    public const int DefaultSegmentSize = 64 * 1024;

    /// <summary>The default <see cref="MaxBufferedSendBytes"/>: 1 MiB.</summary>
    public const long DefaultMaxBufferedSendBytes = 1024 * 1024;

    private int _segmentSize = DefaultSegmentSize;
    private long _maxBufferedSendBytes = DefaultMaxBufferedSendBytes;

    /// <summary>The reader's limits and timeouts: <see cref="FrameReaderOptions.MaxFrameLength"/> (default 8 MiB),
    /// <see cref="FrameReaderOptions.IdleTimeout"/> and <see cref="FrameReaderOptions.FrameTimeout"/> (default off).</summary>
    public FrameReaderOptions Reader { get; } = new FrameReaderOptions();

    /// <summary>
    /// The size of the pipe segments that receives and sends go through, in bytes (default 64 KiB, at least 4 KiB): one
    /// socket read fills at most one segment. 64 KiB measurably beats the BCL's 4 KiB default for many small frames and for
    /// large frames alike (fewer system calls, fewer segment boundaries).
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
}
