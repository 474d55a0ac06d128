using System.Buffers;

namespace HeaderFraming.Serialization;

/// <summary>
/// Turns a message of type <typeparamref name="T"/> into a frame's payload and back. Used by the typed methods of
/// <see cref="FramedConnection"/>.
/// </summary>
/// <typeparam name="T">The message type.</typeparam>
/// <remarks>
/// <para><see cref="Serialize"/> writes into an <see cref="IBufferWriter{T}"/> that, with a fixed-width codec, is the pipe's own
/// memory behind a back-patched header: no intermediate buffer. <see cref="Deserialize"/> reads the payload where it lies in
/// the pipe: no copy to an array. Implementations must be thread-safe (the built-ins are).</para>
/// </remarks>
public interface IFrameSerializer<T>
{
    /// <summary>Writes <paramref name="value"/> as a payload.</summary>
    /// <param name="value">The message.</param>
    /// <param name="destination">Where the payload goes.</param>
    void Serialize(T value, IBufferWriter<byte> destination);

    /// <summary>Reads a message from a payload.</summary>
    /// <param name="payload">The payload; valid only during this call.</param>
    /// <returns>The message.</returns>
    T Deserialize(in ReadOnlySequence<byte> payload);
}
