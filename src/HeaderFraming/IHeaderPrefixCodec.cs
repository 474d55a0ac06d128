namespace HeaderFraming;

/// <summary>
/// A variable-width codec whose header starts with fixed bytes that the caller supplies before its length (MQTT's control
/// byte before the remaining length). <see cref="FrameWriter"/> and <see cref="FramedConnection"/> refuse to write a frame
/// of such a codec without those bytes instead of sending zeros.
/// </summary>
public interface IHeaderPrefixCodec : IFrameCodec
{
    /// <summary>How many bytes come before the length; the header argument of a write holds exactly these.</summary>
    int PrefixLength { get; }
}
