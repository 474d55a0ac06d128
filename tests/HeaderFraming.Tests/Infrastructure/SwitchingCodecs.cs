using System.Buffers;
using HeaderFraming.Codecs;

namespace HeaderFraming.Tests.Infrastructure;

/// <summary>
/// Minimal codecs of the two composite capabilities the drivers support, written here against the interfaces alone (the
/// library's own presets are tested against them separately): a fixed trailer, and caller-supplied bytes before a
/// variable length.
/// </summary>
public static class SwitchingCodecs
{
    /// <summary>AMQP 0-9-1's frame: type, channel (2), size (4, big-endian), payload, then 0xCE.</summary>
    public static IFrameCodec Amqp { get; } = new TrailerTestCodec(new BinaryLengthCodec(4, Endianness.BigEndian, fieldOffset: 3, headerLength: 7), [0xCE]);

    /// <summary>A control byte, then an unsigned LEB128 length (MQTT's shape, without its 4-byte limit).</summary>
    public static IFrameCodec ControlByteVarint { get; } = new ControlByteVarintCodec();

    private sealed class TrailerTestCodec(BinaryLengthCodec inner, byte[] trailer) : IFrameTrailerCodec, ILengthFieldCodec
    {
        public ReadOnlyMemory<byte> Trailer => trailer;

        public LengthFieldLayout LengthField => inner.LengthField;

        public int MaxHeaderLength => inner.MaxHeaderLength;

        public bool IsFixedWidth => true;

        public long MaxPayloadLength => inner.MaxPayloadLength;

        public OperationStatus DecodeHeader(ReadOnlySpan<byte> source, out int headerLength, out long payloadLength)
            => inner.DecodeHeader(source, out headerLength, out payloadLength);

        public FrameFormatException CreateHeaderException(ReadOnlySpan<byte> source) => inner.CreateHeaderException(source);

        public int GetHeaderLength(long payloadLength) => inner.GetHeaderLength(payloadLength);

        public int WriteHeader(long payloadLength, Span<byte> destination) => inner.WriteHeader(payloadLength, destination);

        public override string ToString() => inner + " + trailer CE";
    }

    private sealed class ControlByteVarintCodec : IHeaderPrefixCodec
    {
        public int PrefixLength => 1;

        public int MaxHeaderLength => 1 + VarintCodec.MaxEncodedLength;

        public bool IsFixedWidth => false;

        public long MaxPayloadLength => long.MaxValue;

        public OperationStatus DecodeHeader(ReadOnlySpan<byte> source, out int headerLength, out long payloadLength)
        {
            headerLength = 0;
            payloadLength = 0;
            if (source.IsEmpty)
            {
                return OperationStatus.NeedMoreData;
            }

            OperationStatus status = VarintCodec.Instance.DecodeHeader(source.Slice(1), out int varintLength, out payloadLength);
            headerLength = status == OperationStatus.Done ? varintLength + 1 : 0;
            return status;
        }

        public FrameFormatException CreateHeaderException(ReadOnlySpan<byte> source) => VarintCodec.Instance.CreateHeaderException(source.Slice(1));

        public int GetHeaderLength(long payloadLength) => 1 + VarintCodec.Instance.GetHeaderLength(payloadLength);

        public int WriteHeader(long payloadLength, Span<byte> destination) => 1 + VarintCodec.Instance.WriteHeader(payloadLength, destination.Slice(1));

        public override string ToString() => "control byte + varint";
    }
}
