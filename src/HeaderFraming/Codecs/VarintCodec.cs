using System;
using System.Buffers;
using System.Globalization;
using HeaderFraming.Internal;

namespace HeaderFraming.Codecs;

/// <summary>
/// A variable-length prefix: the payload length as an unsigned LEB128 varint, 7 bits a byte, least significant group first,
/// the high bit set on every byte but the last. This is protobuf's length-delimited format (<c>writeDelimitedTo</c>) and
/// SignalR's binary message framing.
/// </summary>
/// <remarks>
/// <para>Example 1: a 5-byte payload has a 1-byte header. Example 2: a 300-byte payload has the 2-byte header <c>AC 02</c>.</para>
/// <code>
/// +-- varint --+---------------+
/// |  \xAC\x02  |  300 bytes    |
/// +------------+---------------+
/// </code>
/// <para>Decoding rejects, with a <see cref="FrameFormatException"/>: an encoding longer than it needs to be (a last byte of
/// <c>0x00</c> after a continuation, as in <c>80 00</c>), more than <see cref="MaxEncodedLength"/> bytes, and values above
/// <see cref="long.MaxValue"/>. The number is the payload length; <see cref="FrameReaderOptions.MaxFrameLength"/> limits it.</para>
/// <para>The header's width depends on the payload's length, so a payload written through
/// <see cref="FrameWriter.BeginFrame"/> cannot be back-patched in place: the writer buffers it (pooled memory) and copies it
/// once into the pipe when the frame ends. Writing a payload whose length is known (<see cref="FrameWriter.Write(ReadOnlySpan{byte})"/>)
/// costs nothing extra.</para>
/// <para>A varint after fixed bytes, or limited to fewer bytes (MQTT's control byte and 1–4 byte remaining length), is
/// <see cref="PrefixedVarintCodec"/>; this codec has no options, so its decoder stays as small as it is.</para>
/// </remarks>
public sealed class VarintCodec : IFrameCodec
{
    /// <summary>The longest accepted encoding: 9 bytes carry 63 bits, any length up to <see cref="long.MaxValue"/>.</summary>
    public const int MaxEncodedLength = 9;

    private VarintCodec()
    {
    }

    /// <summary>The codec (it has no options).</summary>
    public static VarintCodec Instance { get; } = new VarintCodec();

    /// <inheritdoc />
    public int MaxHeaderLength => MaxEncodedLength;

    /// <inheritdoc />
    public bool IsFixedWidth => false;

    /// <inheritdoc />
    public long MaxPayloadLength => long.MaxValue;

    /// <inheritdoc />
    public OperationStatus DecodeHeader(ReadOnlySpan<byte> source, out int headerLength, out long payloadLength)
    {
        // One-byte fast path: payloads under 128 bytes.
        if (source.Length > 0 && source[0] < 0x80)
        {
            headerLength = 1;
            payloadLength = source[0];
            return OperationStatus.Done;
        }

        headerLength = 0;
        payloadLength = 0;
        ulong value = 0;
        int limit = Math.Min(source.Length, MaxEncodedLength);
        for (int i = 0; i < limit; i++)
        {
            byte b = source[i];
            value |= (ulong)(b & 0x7F) << (7 * i);
            if (b < 0x80)
            {
                if (b == 0 && i > 0)
                {
                    return OperationStatus.InvalidData;
                }

                headerLength = i + 1;
                payloadLength = (long)value;
                return OperationStatus.Done;
            }
        }

        return source.Length >= MaxEncodedLength ? OperationStatus.InvalidData : OperationStatus.NeedMoreData;
    }

    /// <inheritdoc />
    public FrameFormatException CreateHeaderException(ReadOnlySpan<byte> source)
    {
        int limit = Math.Min(source.Length, MaxEncodedLength);
        for (int i = 0; i < limit; i++)
        {
            if (source[i] < 0x80)
            {
                return new FrameFormatException(
                    "the varint is over-long: its last byte is 0x00, so a shorter encoding of the same value exists", source.Slice(0, i + 1));
            }
        }

        return new FrameFormatException(string.Format(CultureInfo.InvariantCulture,
            "the varint has not ended after {0} bytes; a length of at most 63 bits fits in {0}", MaxEncodedLength), source.Slice(0, limit));
    }

    /// <inheritdoc />
    public int GetHeaderLength(long payloadLength)
    {
        if (payloadLength < 0)
        {
            ThrowHelper.ThrowNegativeLength(payloadLength);
        }

        int length = 1;
        ulong value = (ulong)payloadLength;
        while (value >= 0x80)
        {
            value >>= 7;
            length++;
        }

        return length;
    }

    /// <inheritdoc />
    public int WriteHeader(long payloadLength, Span<byte> destination)
    {
        int length = GetHeaderLength(payloadLength);
        if (destination.Length < length)
        {
            ThrowHelper.ThrowDestinationTooSmall(length, destination.Length);
        }

        ulong value = (ulong)payloadLength;
        int i = 0;
        while (value >= 0x80)
        {
            destination[i++] = (byte)(value | 0x80);
            value >>= 7;
        }

        destination[i] = (byte)value;
        return length;
    }

    /// <summary>Describes the codec.</summary>
    /// <returns><c>unsigned LEB128 varint</c>.</returns>
    public override string ToString() => "unsigned LEB128 varint";
}
