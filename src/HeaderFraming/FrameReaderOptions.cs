using System;
using System.Threading;
using HeaderFraming.Internal;

namespace HeaderFraming;

/// <summary>Limits and timeouts of a <see cref="FrameReader"/>. The reader copies them when it is created.</summary>
public sealed class FrameReaderOptions
{
    /// <summary>The default <see cref="MaxFrameLength"/>: 8 MiB.</summary>
    public const long DefaultMaxFrameLength = 8 * 1024 * 1024;

    private long _maxFrameLength = DefaultMaxFrameLength;
    private TimeSpan _idleTimeout = Timeout.InfiniteTimeSpan;
    private TimeSpan _frameTimeout = Timeout.InfiniteTimeSpan;
    private long _minFrameDataRate;
    private TimeSpan _minFrameDataRateGracePeriod = TimeSpan.FromSeconds(5);
    private TimeProvider _timeProvider = TimeProvider.System;

    /// <summary>The shared default options (8 MiB, no timeouts). Do not modify it; create your own instead.</summary>
    internal static FrameReaderOptions Default { get; } = new FrameReaderOptions();

    /// <summary>
    /// The largest payload a frame may declare, in bytes; the header is not counted, and for
    /// <see cref="Codecs.BinaryLengthCodec"/> it is the payload length after the length adjustment. Checked as soon as a header
    /// is parsed, before any of its payload is buffered: a larger frame raises <see cref="FrameTooLargeException"/>.
    /// Default 8 MiB (<see cref="DefaultMaxFrameLength"/>). The reader never allocates from a length the peer declared, so the
    /// most a reader buffers is this limit, plus a header, plus one read of the underlying pipe.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is negative or above 2^62.</exception>
    public long MaxFrameLength
    {
        get => _maxFrameLength;
        set
        {
            ValidateMaxFrameLength(value);
            _maxFrameLength = value;
        }
    }

    /// <summary>
    /// What a header declaring more than <see cref="MaxFrameLength"/> does: <see langword="false"/> (the default) faults the
    /// reader with a <see cref="FrameTooLargeException"/>; <see langword="true"/> discards that frame as its bytes arrive
    /// (its payload is never buffered, so memory stays bounded), counts it in <see cref="FrameReader.FramesSkipped"/> and in
    /// the <c>headerframing.frames.skipped</c> metric, and goes on with the next frame (Netty's discard mode).
    /// </summary>
    /// <remarks>Only for protocols where a peer may legitimately send a frame the receiver does not want and the stream
    /// stays in sync after it; a header that is malformed still faults the reader.</remarks>
    public bool SkipOversizedFrames { get; set; }

    /// <summary>
    /// How long the reader may wait, between frames, for the first byte of the next frame; then the read throws
    /// <see cref="FrameTimeoutException"/>. Default <see cref="Timeout.InfiniteTimeSpan"/> (off): idle connections are normal
    /// for many protocols (the seed's time stream is silent for seconds at a time). Servers that want to drop idle clients set it.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is zero or negative (other than <see cref="Timeout.InfiniteTimeSpan"/>).</exception>
    public TimeSpan IdleTimeout
    {
        get => _idleTimeout;
        set => _idleTimeout = ValidateTimeout(value);
    }

    /// <summary>
    /// How long a frame may take to arrive once its first byte has: a header or a payload trickled a byte at a time
    /// (slowloris) ends with <see cref="FrameTimeoutException"/>. Default <see cref="Timeout.InfiniteTimeSpan"/> (off), because
    /// no single value suits both 16-byte messages on a LAN and 8 MiB frames on a slow link; servers facing untrusted peers
    /// should set it (e.g. 30 seconds).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is zero or negative (other than <see cref="Timeout.InfiniteTimeSpan"/>).</exception>
    public TimeSpan FrameTimeout
    {
        get => _frameTimeout;
        set => _frameTimeout = ValidateTimeout(value);
    }

    /// <summary>
    /// The slowest a started frame may arrive, in bytes per second, once <see cref="MinFrameDataRateGracePeriod"/> has passed
    /// since its first byte: a frame of which fewer than <c>rate × seconds since its first byte</c> bytes have arrived ends the
    /// read with <see cref="FrameTimeoutException"/> (<see cref="FrameTimeoutReason.MinDataRate"/>). One setting protects
    /// 16-byte and 8 MiB frames alike against a peer that trickles them (slowloris), where a single
    /// <see cref="FrameTimeout"/> cannot; Kestrel's <c>MinRequestBodyDataRate</c> works the same way (240 bytes/s after 5 s).
    /// Default 0 (off).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is negative.</exception>
    public long MinFrameDataRate
    {
        get => _minFrameDataRate;
        set
        {
            if (value < 0)
            {
                ThrowHelper.ThrowArgumentOutOfRange(nameof(value), value, "MinFrameDataRate is 0 (off) or a positive number of bytes per second.");
            }

            _minFrameDataRate = value;
        }
    }

    /// <summary>How long a started frame may take before <see cref="MinFrameDataRate"/> applies to it. Default 5 seconds.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is negative or 24 days or more.</exception>
    public TimeSpan MinFrameDataRateGracePeriod
    {
        get => _minFrameDataRateGracePeriod;
        set
        {
            if (value < TimeSpan.Zero || value.TotalMilliseconds > int.MaxValue - 1)
            {
                ThrowHelper.ThrowArgumentOutOfRange(nameof(value), value, "The grace period is zero or positive and under 24 days.");
            }

            _minFrameDataRateGracePeriod = value;
        }
    }

    /// <summary>The clock of the timeouts and the data rate, and of the one wait of a <see cref="FramedConnection"/> that decides
    /// what a read reports: at an end of stream, up to a second for a send in flight to say whether it took the peer's reset
    /// (<see cref="ConnectionShutdownReason.Reset"/>, not <see cref="ConnectionShutdownReason.PeerClosed"/>); a clock that
    /// never advances makes that read wait until the send settles. Dispose's bounded waits use the real clock. Default
    /// <see cref="TimeProvider.System"/>; tests pass a fake one (<c>FakeTimeProvider</c>) to move time without waiting.</summary>
    /// <exception cref="ArgumentNullException">The value is <see langword="null"/>.</exception>
    public TimeProvider TimeProvider
    {
        get => _timeProvider;
        set => _timeProvider = value ?? throw new ArgumentNullException(nameof(value));
    }

    /// <summary>Whether any timeout or the data rate is on.</summary>
    internal bool HasTimeouts => _idleTimeout != Timeout.InfiniteTimeSpan || _frameTimeout != Timeout.InfiniteTimeSpan || _minFrameDataRate > 0;

    internal static void ValidateMaxFrameLength(long value)
    {
        if (value < 0 || value > (1L << 62))
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(value), value, "MaxFrameLength must be between 0 and 2^62 bytes.");
        }
    }

    private static TimeSpan ValidateTimeout(TimeSpan value)
    {
        if (value != Timeout.InfiniteTimeSpan && (value <= TimeSpan.Zero || value.TotalMilliseconds > int.MaxValue - 1))
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(value), value, "A timeout is positive and under 24 days, or Timeout.InfiniteTimeSpan.");
        }

        return value;
    }
}
