namespace HeaderFraming;

/// <summary>Which limit of <see cref="FrameReaderOptions"/> a <see cref="FrameTimeoutException"/> reports.</summary>
public enum FrameTimeoutReason
{
    /// <summary>No frame started within <see cref="FrameReaderOptions.IdleTimeout"/>.</summary>
    Idle = 1,

    /// <summary>A started frame was not complete within <see cref="FrameReaderOptions.FrameTimeout"/>.</summary>
    Frame = 2,

    /// <summary>A started frame arrived slower than <see cref="FrameReaderOptions.MinFrameDataRate"/> once its grace period
    /// (<see cref="FrameReaderOptions.MinFrameDataRateGracePeriod"/>) was over.</summary>
    MinDataRate = 3,
}
