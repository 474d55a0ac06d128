using System;

namespace HeaderFraming;

/// <summary>
/// A codec whose every frame ends with the same fixed bytes after the payload (AMQP 0-9-1's frame-end byte <c>0xCE</c>).
/// <see cref="FrameReader"/> checks them on every frame and leaves them out of <see cref="Frame.Payload"/>;
/// <see cref="FrameWriter"/> writes them after every payload.
/// </summary>
/// <remarks>
/// The header still declares only the payload's length (<see cref="IFrameCodec.DecodeHeader"/> returns it without the
/// trailer); <see cref="FrameReaderOptions.MaxFrameLength"/> counts the payload, not the trailer. Frames whose trailer
/// differs fault the reader with a <see cref="FrameFormatException"/> that gives the frame's offset and the bytes found.
/// </remarks>
public interface IFrameTrailerCodec : IFrameCodec
{
    /// <summary>The bytes every frame ends with; never empty.</summary>
    ReadOnlyMemory<byte> Trailer { get; }
}
