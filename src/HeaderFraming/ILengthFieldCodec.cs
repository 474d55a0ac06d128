namespace HeaderFraming;

/// <summary>
/// A codec whose header is fixed-length with the payload length as an integer at a fixed place (<see cref="LengthField"/>).
/// <see cref="FrameReader"/>, <see cref="FrameWriter"/> and <see cref="FramedConnection"/> discover it once, when they are
/// created, and then decode and encode every such header inline, without calling the codec per frame. The built-in
/// <see cref="Codecs.BinaryLengthCodec"/> implements it; so can a codec of your own.
/// </summary>
/// <remarks>
/// The contract: <see cref="IFrameCodec.DecodeHeader"/> and <see cref="IFrameCodec.WriteHeader"/> must behave exactly as the
/// layout says (the drivers use either), the header is always <see cref="LengthFieldLayout.HeaderLength"/> bytes
/// (<see cref="IFrameCodec.IsFixedWidth"/>), and a field value that gives no valid payload length (above 2^63 − 1, or negative
/// after the adjustment) is <see cref="System.Buffers.OperationStatus.InvalidData"/>. The drivers still call
/// <see cref="IFrameCodec.CreateHeaderException"/> for such a header, so its message is the codec's.
/// </remarks>
public interface ILengthFieldCodec : IFrameCodec
{
    /// <summary>Where the length lives in the header.</summary>
    LengthFieldLayout LengthField { get; }
}
