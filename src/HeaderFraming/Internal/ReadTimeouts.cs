using System;
using System.Threading;

namespace HeaderFraming.Internal;

/// <summary>
/// The time policy of a <see cref="FrameReader"/>: the idle timeout, the frame timeout and the minimum data rate, on a
/// <see cref="TimeProvider"/> (Kestrel's <c>TimeoutControl</c> keeps the same apart from its parser). The reader tells it
/// when a read delivered bytes and when it is about to wait; it arms one timer for the earliest limit, and says after a
/// wake-up whether that limit has really passed. A frame is known by its stream offset, so a frame completed on any path
/// can never leave its start time to the next one.
/// </summary>
internal sealed class ReadTimeouts : IDisposable
{
    private readonly TimeProvider _time;
    private readonly TimeSpan _idleTimeout;
    private readonly TimeSpan _frameTimeout;
    private readonly long _minDataRate;
    private readonly TimeSpan _gracePeriod;
    private readonly Action _onTimer;
    private ITimer? _timer;

    // The frame being waited for: its stream offset and when its first byte was received.
    private long _frameOffset = -1;
    private long _frameStart;

    // When the last read completed (the first bytes of a new frame arrived no earlier than that).
    private long _lastRead;

    // The armed wait: when it started and the frame it was for.
    private long _waitStart;
    private long _waitFrameOffset;
    private long _waitBuffered;
    private int _fired;

    private ReadTimeouts(FrameReaderOptions options, Action onTimer)
    {
        _time = options.TimeProvider;
        _idleTimeout = options.IdleTimeout;
        _frameTimeout = options.FrameTimeout;
        _minDataRate = options.MinFrameDataRate;
        _gracePeriod = options.MinFrameDataRateGracePeriod;
        _onTimer = onTimer;
    }

    /// <summary>The policy for <paramref name="options"/>, or <see langword="null"/> when no limit is on.</summary>
    public static ReadTimeouts? Create(FrameReaderOptions options, Action onTimer)
        => options.HasTimeouts ? new ReadTimeouts(options, onTimer) : null;

    /// <summary>A read delivered bytes (or ended).</summary>
    public void OnReadCompleted() => _lastRead = _time.GetTimestamp();

    /// <summary>
    /// Arms the timer for a wait that is about to start for the frame at <paramref name="frameOffset"/>, of which
    /// <paramref name="buffered"/> bytes have arrived.
    /// </summary>
    public void Arm(long frameOffset, long buffered)
    {
        long now = _time.GetTimestamp();
        _waitStart = now;
        _waitFrameOffset = frameOffset;
        _waitBuffered = buffered;
        if (buffered > 0 && _frameOffset != frameOffset)
        {
            // A frame not seen at an earlier wait: its first bytes came with the last read (every earlier read was followed
            // by a wait for the frame it left incomplete).
            _frameOffset = frameOffset;
            _frameStart = _lastRead != 0 ? _lastRead : now;
        }

        TimeSpan? due = TimeUntilExpiry(now, frameOffset, buffered, out _);
        if (due is TimeSpan delay)
        {
            _timer ??= _time.CreateTimer(static state => ((ReadTimeouts)state!).Fire(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            _timer.Change(delay < TimeSpan.FromMilliseconds(1) ? TimeSpan.FromMilliseconds(1) : delay, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>The wait ended: stops the timer.</summary>
    public void Disarm() => _timer?.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);

    /// <summary>
    /// Called for every cancelled read: whether the timer has fired since a cancelled read last asked (and clears it). Not
    /// cleared when a wait is armed: a timer that fired just as bytes completed a wait leaves its cancellation pending in the
    /// pipe, and the next wait's read returns it. Forgetting that the timer fired would hand it to the user as
    /// <see cref="FrameReadResult.IsCanceled"/>.
    /// </summary>
    public bool TakeFired() => Interlocked.Exchange(ref _fired, 0) != 0;

    /// <summary>Whether the timer fired and no wait has taken that yet (see <see cref="TakeFired"/>).</summary>
    public bool HasFired => Volatile.Read(ref _fired) != 0;

    /// <summary>
    /// After a wake-up by the timer: the exception if a limit has passed for the frame at <paramref name="frameOffset"/> of
    /// which <paramref name="buffered"/> bytes have now arrived, else <see langword="null"/> (the timer fired late, or bytes
    /// arrived meanwhile that keep the frame above the minimum rate: the caller waits again).
    /// </summary>
    public FrameTimeoutException? CheckExpired(long frameOffset, long buffered, ReadOnlySpan<byte> header)
    {
        long now = _time.GetTimestamp();
        if (buffered > 0 && _frameOffset != frameOffset)
        {
            // The frame started during the wait.
            return null;
        }

        TimeSpan? due = TimeUntilExpiry(now, frameOffset, buffered, out FrameTimeoutReason reason);
        if (due is not TimeSpan delay || delay > TimeSpan.Zero)
        {
            return null;
        }

        if (buffered == 0 && _waitBuffered == 0)
        {
            return new FrameTimeoutException(FrameTimeoutReason.Idle, _idleTimeout, _time.GetElapsedTime(_waitStart, now), frameOffset, 0, 0, default);
        }

        TimeSpan elapsed = _time.GetElapsedTime(_frameStart, now);
        TimeSpan limit = reason == FrameTimeoutReason.Frame ? _frameTimeout : TimeSpan.FromSeconds((double)buffered / _minDataRate);
        return new FrameTimeoutException(reason, limit, elapsed, frameOffset, buffered, _minDataRate, header);
    }

    public void Dispose()
    {
        _timer?.Dispose();
        _timer = null;
    }

    /// <summary>How long until the earliest limit passes (≤ 0: passed), or <see langword="null"/> for none.</summary>
    private TimeSpan? TimeUntilExpiry(long now, long frameOffset, long buffered, out FrameTimeoutReason reason)
    {
        reason = FrameTimeoutReason.Idle;
        if (buffered == 0)
        {
            return _idleTimeout == Timeout.InfiniteTimeSpan
                ? null
                : _idleTimeout - _time.GetElapsedTime(frameOffset == _waitFrameOffset ? _waitStart : now, now);
        }

        TimeSpan sinceStart = _time.GetElapsedTime(_frameStart, now);
        TimeSpan? due = null;
        if (_frameTimeout != Timeout.InfiniteTimeSpan)
        {
            due = _frameTimeout - sinceStart;
            reason = FrameTimeoutReason.Frame;
        }

        if (_minDataRate > 0)
        {
            // Fewer than rate × t bytes at t seconds since the first byte, once the grace period is over: the bytes received
            // so far "pay" for buffered / rate seconds.
            TimeSpan paidFor = TimeSpan.FromSeconds((double)buffered / _minDataRate);
            TimeSpan rateDue = (paidFor > _gracePeriod ? paidFor : _gracePeriod) - sinceStart;
            if (due is not TimeSpan frameDue || rateDue < frameDue)
            {
                due = rateDue;
                reason = FrameTimeoutReason.MinDataRate;
            }
        }

        return due;
    }

    private void Fire()
    {
        Volatile.Write(ref _fired, 1);
        _onTimer();
    }
}
