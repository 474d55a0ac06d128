using System;
using System.Threading.Tasks;
using HeaderFraming.Serialization;

namespace HeaderFraming.AspNetCore;

/// <summary>
/// A <see cref="FramedConnectionHandler"/> that deserializes each frame's payload with an <see cref="IFrameSerializer{T}"/>
/// and calls <see cref="OnMessageAsync"/> with the message.
/// </summary>
/// <typeparam name="T">The message type.</typeparam>
public abstract class FramedConnectionHandler<T> : FramedConnectionHandler
{
    /// <summary>A handler of messages in <paramref name="serializer"/>'s format.</summary>
    /// <param name="serializer">The payload format, e.g. <see cref="Utf8TextSerializer.Instance"/> or a <see cref="JsonFrameSerializer{T}"/>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="serializer"/> is <see langword="null"/>.</exception>
    protected FramedConnectionHandler(IFrameSerializer<T> serializer)
    {
        ArgumentNullException.ThrowIfNull(serializer);
        Serializer = serializer;
    }

    /// <summary>The payload format of both directions: reply with
    /// <c>context.SendAsync(reply, Serializer)</c>.</summary>
    protected IFrameSerializer<T> Serializer { get; }

    /// <summary>Deserializes the frame and calls <see cref="OnMessageAsync"/>.</summary>
    /// <param name="context">The connection.</param>
    /// <param name="frame">The frame.</param>
    /// <returns>The task of <see cref="OnMessageAsync"/>.</returns>
    protected sealed override ValueTask OnFrameAsync(FramedConnectionContext context, Frame frame)
        => OnMessageAsync(context, Serializer.Deserialize(frame.Payload));

    /// <summary>Called for each message, in order; the next frame is read when the returned task completes.</summary>
    /// <param name="context">The connection.</param>
    /// <param name="message">The message (deserialized: it does not refer to the connection's buffers, unless the
    /// serializer makes it).</param>
    /// <returns>A task that completes when the message is handled.</returns>
    protected abstract ValueTask OnMessageAsync(FramedConnectionContext context, T message);
}
