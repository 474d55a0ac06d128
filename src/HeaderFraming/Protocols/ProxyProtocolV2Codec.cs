using System;
using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using HeaderFraming.Internal;

namespace HeaderFraming.Protocols;

/// <summary>
/// The PROXY protocol v2 header (haproxy, cloud load balancers) as a frame codec: a 16-byte header — the 12-byte signature,
/// a version/command byte, an address family/transport byte and a 2-byte big-endian length — then that many bytes of
/// addresses and TLVs, which <see cref="ProxyHeader.ParseV2(in Frame)"/> parses.
/// </summary>
/// <remarks>
/// <code>
/// +------------- signature (12 bytes) -------------+-ver|cmd-+-fam|proto-+- len: u16 -+-- addresses, TLVs --+
/// | \r \n \r \n \0 \r \n Q U I T \n                |   0x21  |    0x11    |   00 0C    |  12 bytes (IPv4)    |
/// +------------------------------------------------+---------+------------+------------+---------------------+
///  0                                                12        13           14           16
/// </code>
/// <para>Unlike a plain <see cref="Codecs.BinaryLengthCodec"/>, <see cref="DecodeHeader"/> validates the header: the
/// signature (a mismatch is reported as soon as the first wrong byte arrives, so a peer that speaks something else is
/// refused without waiting for 16 bytes), the version (high nibble of byte 12 must be 2) and the command (low nibble 0
/// LOCAL or 1 PROXY: the specification tells receivers to drop other values). That is why it does not declare an
/// <see cref="ILengthFieldCodec"/> layout: the drivers would decode the layout inline and skip those checks.</para>
/// <para><see cref="WriteHeader"/> writes the signature and the length; bytes 12 and 13 (version/command, family) are the
/// caller's.</para>
/// </remarks>
public sealed class ProxyProtocolV2Codec : IFrameCodec
{
    /// <summary>The header's length: 16 bytes.</summary>
    public const int HeaderLength = 16;

    private ProxyProtocolV2Codec()
    {
    }

    /// <summary>The codec (it has no options).</summary>
    public static ProxyProtocolV2Codec Instance { get; } = new ProxyProtocolV2Codec();

    /// <inheritdoc />
    public int MaxHeaderLength => HeaderLength;

    /// <inheritdoc />
    public bool IsFixedWidth => true;

    /// <inheritdoc />
    public long MaxPayloadLength => ushort.MaxValue;

    /// <inheritdoc />
    public OperationStatus DecodeHeader(ReadOnlySpan<byte> source, out int headerLength, out long payloadLength)
    {
        headerLength = 0;
        payloadLength = 0;
        ReadOnlySpan<byte> signature = ProxyProtocol.V2Signature;
        int available = Math.Min(source.Length, signature.Length);
        if (!source.Slice(0, available).SequenceEqual(signature.Slice(0, available)))
        {
            return OperationStatus.InvalidData;
        }

        if (source.Length > 12 && !IsValidVersionAndCommand(source[12]))
        {
            return OperationStatus.InvalidData;
        }

        if (source.Length < HeaderLength)
        {
            return OperationStatus.NeedMoreData;
        }

        headerLength = HeaderLength;
        payloadLength = BinaryPrimitives.ReadUInt16BigEndian(source.Slice(14));
        return OperationStatus.Done;
    }

    /// <inheritdoc />
    public FrameFormatException CreateHeaderException(ReadOnlySpan<byte> source)
    {
        ReadOnlySpan<byte> header = source.Slice(0, Math.Min(source.Length, HeaderLength));
        ReadOnlySpan<byte> signature = ProxyProtocol.V2Signature;
        for (int i = 0; i < Math.Min(header.Length, signature.Length); i++)
        {
            if (header[i] != signature[i])
            {
                string hint = header.Length >= 5 && header.Slice(0, 5).SequenceEqual("PROXY"u8)
                    ? "; the peer seems to send a PROXY protocol v1 text line (read it with ProxyHeader.TryParseV1)"
                    : string.Empty;
                return new FrameFormatException(string.Format(CultureInfo.InvariantCulture,
                    "byte {0} of the header is 0x{1:X2}, expected 0x{2:X2}: not the PROXY protocol v2 signature \\r\\n\\r\\n\\0\\r\\nQUIT\\n{3}",
                    i, header[i], signature[i], hint), header);
            }
        }

        if (header.Length > 12 && !IsValidVersionAndCommand(header[12]))
        {
            byte b = header[12];
            string problem = (b >> 4) != 2
                ? string.Format(CultureInfo.InvariantCulture,
                    "byte 12 of the header is 0x{0:X2}: version {1}, expected version 2 (a high nibble of 0x2)", b, b >> 4)
                : string.Format(CultureInfo.InvariantCulture,
                    "byte 12 of the header is 0x{0:X2}: command 0x{1:X}, expected 0x0 (LOCAL) or 0x1 (PROXY)", b, b & 0xF);
            return new FrameFormatException(problem, header);
        }

        return new FrameFormatException(string.Format(CultureInfo.InvariantCulture,
            "the header ({0} bytes) is valid so far and was reported as invalid by mistake", header.Length), header);
    }

    /// <inheritdoc />
    public int GetHeaderLength(long payloadLength) => HeaderLength;

    /// <inheritdoc />
    /// <remarks>Writes the signature (bytes 0–11) and the length (bytes 14–15); bytes 12 and 13 are left as the caller set them.</remarks>
    public int WriteHeader(long payloadLength, Span<byte> destination)
    {
        if (payloadLength < 0)
        {
            ThrowHelper.ThrowNegativeLength(payloadLength);
        }

        if (payloadLength > ushort.MaxValue)
        {
            ThrowHelper.ThrowPayloadTooLong(payloadLength, ushort.MaxValue, ToString());
        }

        if (destination.Length < HeaderLength)
        {
            ThrowHelper.ThrowDestinationTooSmall(HeaderLength, destination.Length);
        }

        ProxyProtocol.V2Signature.CopyTo(destination);
        BinaryPrimitives.WriteUInt16BigEndian(destination.Slice(14), (ushort)payloadLength);
        return HeaderLength;
    }

    /// <summary>Describes the codec.</summary>
    /// <returns><c>PROXY protocol v2 header</c>.</returns>
    public override string ToString() => "PROXY protocol v2 header";

    private static bool IsValidVersionAndCommand(byte b) => (b >> 4) == 2 && (b & 0xF) <= 1;
}
