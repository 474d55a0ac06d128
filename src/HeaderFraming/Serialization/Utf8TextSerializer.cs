using System;
using System.Buffers;
using System.Text;

namespace HeaderFraming.Serialization;

/// <summary>Strings as UTF-8 payloads: the seed tutorial's messages (<c>msg.encode("utf-8")</c>).</summary>
/// <remarks>Decoding replaces invalid UTF-8 with U+FFFD, as Python's <c>decode("utf-8", errors="replace")</c> does.</remarks>
public sealed class Utf8TextSerializer : IFrameSerializer<string>
{
    private static readonly UTF8Encoding s_encoding = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false);

    private Utf8TextSerializer()
    {
    }

    /// <summary>The serializer (it has no options).</summary>
    public static Utf8TextSerializer Instance { get; } = new Utf8TextSerializer();

    /// <inheritdoc />
    public void Serialize(string value, IBufferWriter<byte> destination)
    {
        if (value is null)
        {
            throw new ArgumentNullException(nameof(value));
        }

        if (destination is null)
        {
            throw new ArgumentNullException(nameof(destination));
        }

#if NET
        s_encoding.GetBytes(value, destination);
#else
        int count = s_encoding.GetByteCount(value);
        byte[] bytes = s_encoding.GetBytes(value);
        bytes.AsSpan(0, count).CopyTo(destination.GetSpan(count));
        destination.Advance(count);
#endif
    }

    /// <inheritdoc />
    public string Deserialize(in ReadOnlySequence<byte> payload)
    {
#if NET
        return s_encoding.GetString(payload);
#else
        if (payload.IsSingleSegment && System.Runtime.InteropServices.MemoryMarshal.TryGetArray(payload.First, out ArraySegment<byte> segment))
        {
            return s_encoding.GetString(segment.Array!, segment.Offset, segment.Count);
        }

        return s_encoding.GetString(payload.ToArray());
#endif
    }
}
