using System;
using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace HeaderFraming.Protocols;

/// <summary>
/// What a PROXY protocol header (v1 or v2) says about the relayed connection: the command, and for a proxied TCP or UDP
/// connection over IPv4 or IPv6 the client's (<see cref="SourceEndPoint"/>) and the proxy's (<see cref="DestinationEndPoint"/>)
/// endpoints. See <see cref="ProxyProtocol"/> for the wire formats.
/// </summary>
/// <remarks>Endpoints are <see langword="null"/> for <see cref="ProxyCommand.Local"/>, for an unspecified or UNIX family and
/// for v1's <c>UNKNOWN</c>: the receiver then uses the connection's own endpoints, as the specification says.</remarks>
public sealed class ProxyHeader
{
    private ProxyHeader(int version, ProxyCommand command, AddressFamily family, SocketType socketType,
        IPEndPoint? source, IPEndPoint? destination, ReadOnlyMemory<byte> tlvs)
    {
        Version = version;
        Command = command;
        AddressFamily = family;
        SocketType = socketType;
        SourceEndPoint = source;
        DestinationEndPoint = destination;
        Tlvs = tlvs;
    }

    /// <summary>The protocol version the header was sent in: 1 (text) or 2 (binary).</summary>
    public int Version { get; }

    /// <summary>Whether the connection is relayed for a client (<see cref="ProxyCommand.Proxy"/>) or the proxy's own.</summary>
    public ProxyCommand Command { get; }

    /// <summary><see cref="AddressFamily.InterNetwork"/>, <see cref="AddressFamily.InterNetworkV6"/>,
    /// <see cref="AddressFamily.Unix"/> or <see cref="AddressFamily.Unspecified"/>.</summary>
    public AddressFamily AddressFamily { get; }

    /// <summary><see cref="SocketType.Stream"/> (TCP), <see cref="SocketType.Dgram"/> (UDP) or <see cref="SocketType.Unknown"/>.</summary>
    public SocketType SocketType { get; }

    /// <summary>The client's address and port, or <see langword="null"/> (see the remarks).</summary>
    public IPEndPoint? SourceEndPoint { get; }

    /// <summary>The address and port the client connected to (the proxy's), or <see langword="null"/>.</summary>
    public IPEndPoint? DestinationEndPoint { get; }

    /// <summary>v2's type-length-value vectors after the addresses (ALPN, authority, CRC32C, …), unparsed; empty for v1.</summary>
    public ReadOnlyMemory<byte> Tlvs { get; }

    /// <summary>Describes the header for logs, e.g. <c>PROXY v2 Proxy Stream 192.0.2.1:56324 -&gt; 198.51.100.2:443</c>.</summary>
    /// <returns>The description.</returns>
    public override string ToString()
        => SourceEndPoint is null
            ? string.Format(CultureInfo.InvariantCulture, "PROXY v{0} {1} {2} (no addresses)", Version, Command, AddressFamily)
            : string.Format(CultureInfo.InvariantCulture, "PROXY v{0} {1} {2} {3} -> {4}", Version, Command, SocketType, SourceEndPoint, DestinationEndPoint);

    /// <summary>Parses a v2 header read as a frame of <see cref="ProxyProtocol.V2Codec"/>.</summary>
    /// <param name="frame">The frame: the 16-byte header and its address block.</param>
    /// <returns>The parsed header.</returns>
    /// <exception cref="FrameFormatException">The header is not a valid v2 header, its family or transport is unknown, or its
    /// address block is shorter than its family needs.</exception>
    public static ProxyHeader ParseV2(in Frame frame)
        => frame.IsContiguous
            ? ParseV2(frame.HeaderSpan, frame.PayloadSpan)
            : ParseV2(frame.Header.ToArray(), frame.Payload.ToArray());

    /// <summary>Parses a v2 header from its 16 header bytes and the address block that follows them.</summary>
    /// <param name="header">The 16-byte header.</param>
    /// <param name="addressBlock">The bytes after it, as many as the header's length says.</param>
    /// <returns>The parsed header.</returns>
    /// <exception cref="FrameFormatException">The header is not a valid v2 header, its length differs from the address
    /// block's, its family or transport is unknown, or its address block is shorter than its family needs.</exception>
    public static ProxyHeader ParseV2(ReadOnlySpan<byte> header, ReadOnlySpan<byte> addressBlock)
    {
        ProxyProtocolV2Codec codec = ProxyProtocolV2Codec.Instance;
        OperationStatus status = codec.DecodeHeader(header, out _, out long length);
        if (status == OperationStatus.InvalidData)
        {
            throw codec.CreateHeaderException(header);
        }

        if (status != OperationStatus.Done)
        {
            throw Malformed(string.Format(CultureInfo.InvariantCulture,
                "the PROXY v2 header has {0} bytes, expected {1}", header.Length, ProxyProtocol.V2HeaderLength), header);
        }

        header = header.Slice(0, ProxyProtocol.V2HeaderLength);
        if (length != addressBlock.Length)
        {
            throw Malformed(string.Format(CultureInfo.InvariantCulture,
                "the PROXY v2 header declares {0} bytes after it (bytes 14-15), but {1} were given", length, addressBlock.Length), header);
        }

        var command = (ProxyCommand)(header[12] & 0xF);
        byte familyByte = header[13];
        (AddressFamily family, int addressBytes) = (familyByte >> 4) switch
        {
            0 => (AddressFamily.Unspecified, 0),
            1 => (AddressFamily.InterNetwork, 12),
            2 => (AddressFamily.InterNetworkV6, 36),
            3 => (AddressFamily.Unix, 216),
            _ => (AddressFamily.Unknown, -1),
        };
        SocketType socketType = (familyByte & 0xF) switch
        {
            0 => SocketType.Unknown,
            1 => SocketType.Stream,
            2 => SocketType.Dgram,
            _ => (SocketType)(-2),
        };
        if (addressBytes < 0 || socketType == (SocketType)(-2))
        {
            // LOCAL connections must be accepted whatever their family, per the specification.
            if (command == ProxyCommand.Local)
            {
                return new ProxyHeader(2, command, AddressFamily.Unspecified, SocketType.Unknown, null, null, ReadOnlyMemory<byte>.Empty);
            }

            throw Malformed(string.Format(CultureInfo.InvariantCulture,
                "byte 13 of the PROXY v2 header is 0x{0:X2}: expected an address family of 0x0 to 0x3 (high nibble) and a transport of 0x0 to 0x2 (low nibble)",
                familyByte), header);
        }

        if (addressBlock.Length < addressBytes)
        {
            throw Malformed(string.Format(CultureInfo.InvariantCulture,
                "the PROXY v2 address block has {0} bytes; family 0x{1:X} ({2}) needs {3}", addressBlock.Length, familyByte >> 4, family, addressBytes), header);
        }

        ReadOnlyMemory<byte> tlvs = addressBlock.Slice(addressBytes).ToArray();
        if (command == ProxyCommand.Local || family is AddressFamily.Unspecified or AddressFamily.Unix)
        {
            return new ProxyHeader(2, command, family, socketType, null, null, tlvs);
        }

        int size = family == AddressFamily.InterNetwork ? 4 : 16;
        var source = new IPAddress(addressBlock.Slice(0, size).ToArray());
        var destination = new IPAddress(addressBlock.Slice(size, size).ToArray());
        int sourcePort = BinaryPrimitives.ReadUInt16BigEndian(addressBlock.Slice(2 * size));
        int destinationPort = BinaryPrimitives.ReadUInt16BigEndian(addressBlock.Slice((2 * size) + 2));
        return new ProxyHeader(2, command, family, socketType,
            new IPEndPoint(source, sourcePort), new IPEndPoint(destination, destinationPort), tlvs);
    }

    /// <summary>
    /// Parses a PROXY v1 line (<c>PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n</c>) at the start of
    /// <paramref name="buffer"/>, as Kestrel's parsers do: <see langword="false"/> while the line is incomplete (nothing is
    /// consumed), a <see cref="FrameFormatException"/> as soon as the bytes can no longer be a valid line.
    /// </summary>
    /// <param name="buffer">The bytes received so far.</param>
    /// <param name="header">On success, the parsed header.</param>
    /// <param name="consumed">On success, the position just after the line's CRLF (where the application's bytes start);
    /// otherwise <paramref name="buffer"/>'s start.</param>
    /// <returns>Whether a whole line was parsed.</returns>
    /// <exception cref="FrameFormatException">The bytes are not a PROXY v1 line: they do not start with <c>PROXY </c>, no CRLF
    /// within <see cref="ProxyProtocol.V1MaxLineLength"/> bytes, an unknown protocol, an invalid address or port.</exception>
    public static bool TryParseV1(in ReadOnlySequence<byte> buffer, [NotNullWhen(true)] out ProxyHeader? header, out SequencePosition consumed)
    {
        header = null;
        consumed = buffer.Start;
        int available = (int)Math.Min(buffer.Length, ProxyProtocol.V1MaxLineLength);
        Span<byte> line = stackalloc byte[ProxyProtocol.V1MaxLineLength];
        line = line.Slice(0, available);
        buffer.Slice(0, available).CopyTo(line);

        ReadOnlySpan<byte> prefix = "PROXY "u8;
        for (int i = 0; i < Math.Min(available, prefix.Length); i++)
        {
            if (line[i] != prefix[i])
            {
                throw Malformed(string.Format(CultureInfo.InvariantCulture,
                    "byte {0} of the PROXY v1 line is 0x{1:X2}, expected '{2}': a v1 line starts with \"PROXY \"", i, line[i], (char)prefix[i]), line.Slice(0, i + 1));
            }
        }

        int newline = line.IndexOf((byte)'\n');
        if (newline < 0)
        {
            if (available == ProxyProtocol.V1MaxLineLength)
            {
                throw Malformed(string.Format(CultureInfo.InvariantCulture,
                    "the PROXY v1 line has no LF within its first {0} bytes, the most a line may have", ProxyProtocol.V1MaxLineLength), line);
            }

            return false;
        }

        ReadOnlySpan<byte> bytes = line.Slice(0, newline + 1);
        if (newline == 0 || line[newline - 1] != '\r')
        {
            throw Malformed(string.Format(CultureInfo.InvariantCulture,
                "byte {0} of the PROXY v1 line is a LF without a CR before it: expected the line to end with CRLF", newline), bytes);
        }

        header = ParseV1Line(bytes);
        consumed = buffer.GetPosition(newline + 1);
        return true;
    }

    private static ProxyHeader ParseV1Line(ReadOnlySpan<byte> bytes)
    {
        string text = Encoding.ASCII.GetString(bytes.Slice(0, bytes.Length - 2).ToArray());
        string[] parts = text.Split(' ');
        string protocol = parts.Length > 1 ? parts[1] : string.Empty;
        if (protocol == "UNKNOWN")
        {
            // The rest of the line is to be ignored.
            return new ProxyHeader(1, ProxyCommand.Proxy, AddressFamily.Unspecified, SocketType.Unknown, null, null, ReadOnlyMemory<byte>.Empty);
        }

        AddressFamily family = protocol switch
        {
            "TCP4" => AddressFamily.InterNetwork,
            "TCP6" => AddressFamily.InterNetworkV6,
            _ => AddressFamily.Unknown,
        };
        if (family == AddressFamily.Unknown)
        {
            throw Malformed(string.Format(CultureInfo.InvariantCulture,
                "the PROXY v1 line's protocol is \"{0}\", expected TCP4, TCP6 or UNKNOWN", protocol), bytes);
        }

        if (parts.Length != 6)
        {
            throw Malformed(string.Format(CultureInfo.InvariantCulture,
                "the PROXY v1 line has {0} space-separated fields, expected 6 (PROXY, protocol, source, destination, source port, destination port)",
                parts.Length), bytes);
        }

        IPAddress source = ParseV1Address(parts[2], family, "source address", bytes);
        IPAddress destination = ParseV1Address(parts[3], family, "destination address", bytes);
        int sourcePort = ParseV1Port(parts[4], "source port", bytes);
        int destinationPort = ParseV1Port(parts[5], "destination port", bytes);
        return new ProxyHeader(1, ProxyCommand.Proxy, family, SocketType.Stream,
            new IPEndPoint(source, sourcePort), new IPEndPoint(destination, destinationPort), ReadOnlyMemory<byte>.Empty);
    }

    private static IPAddress ParseV1Address(string text, AddressFamily family, string what, ReadOnlySpan<byte> line)
    {
        // IPv4: exactly four decimal octets without leading zeros (IPAddress.TryParse would read "010" as octal and
        // accept "1.2.3" as 1.2.0.3). IPv6: a colon form without a zone.
        bool shapeOk = family == AddressFamily.InterNetwork
            ? Array.TrueForAll(text.Split('.'), IsDecimalOctet) && text.Split('.').Length == 4
            : text.IndexOf(':') >= 0 && text.IndexOf('%') < 0;
        if (!shapeOk || !IPAddress.TryParse(text, out IPAddress? address) || address.AddressFamily != family)
        {
            throw Malformed(string.Format(CultureInfo.InvariantCulture,
                "the PROXY v1 line's {0} is \"{1}\", expected an {2} address", what, text,
                family == AddressFamily.InterNetwork ? "IPv4 dotted-quad" : "IPv6"), line);
        }

        return address;
    }

    private static bool IsDecimalOctet(string part)
        => part.Length is >= 1 and <= 3 && Array.TrueForAll(part.ToCharArray(), c => c is >= '0' and <= '9')
            && (part.Length == 1 || part[0] != '0') && int.Parse(part, NumberStyles.None, CultureInfo.InvariantCulture) <= 255;

    private static int ParseV1Port(string text, string what, ReadOnlySpan<byte> line)
    {
        bool digits = text.Length is >= 1 and <= 5 && Array.TrueForAll(text.ToCharArray(), c => c is >= '0' and <= '9')
            && (text.Length == 1 || text[0] != '0');
        if (!digits || !int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port > ushort.MaxValue)
        {
            throw Malformed(string.Format(CultureInfo.InvariantCulture,
                "the PROXY v1 line's {0} is \"{1}\", expected a decimal number from 0 to 65535 without leading zeros", what, text), line);
        }

        return port;
    }

    private static FrameFormatException Malformed(string problem, ReadOnlySpan<byte> bytes) => new FrameFormatException(problem, bytes);
}
