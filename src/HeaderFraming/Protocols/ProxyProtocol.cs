using System;

namespace HeaderFraming.Protocols;

/// <summary>
/// The PROXY protocol (haproxy's, also spoken by AWS, GCP and Azure load balancers): a header the proxy sends before the
/// client's first byte, carrying the client's real address. Version 2 is binary (<see cref="V2Codec"/>); version 1 is a text
/// line (<see cref="ProxyHeader.TryParseV1"/>).
/// </summary>
/// <remarks>
/// <code>
/// v2: | \r\n\r\n\0\r\nQUIT\n | 0x21 | 0x11 | 00 0C | src 4 | dst 4 | sport 2 | dport 2 | TLVs… | application bytes…
/// v1: | PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n | application bytes…   (at most 107 bytes with the CRLF)
/// </code>
/// <para>A server reads the v2 header as one frame, <c>await reader.ReadFrameAsync()</c> on a reader of
/// <see cref="V2Codec"/>, parses it with <see cref="ProxyHeader.ParseV2(in Frame)"/>, then frames the rest of the
/// connection with its own codec.</para>
/// </remarks>
public static class ProxyProtocol
{
    /// <summary>The length of the v2 header before its address block: 16 bytes.</summary>
    public const int V2HeaderLength = ProxyProtocolV2Codec.HeaderLength;

    /// <summary>The longest v1 line, CRLF included: 107 bytes.</summary>
    public const int V1MaxLineLength = 107;

    /// <summary>The v2 header codec, which validates the signature, version and command.</summary>
    public static ProxyProtocolV2Codec V2Codec => ProxyProtocolV2Codec.Instance;

    /// <summary>The v2 version (high nibble, always 2) and command (low nibble) byte: byte 12.</summary>
    public static HeaderField V2VersionAndCommand { get; } = new HeaderField(12, 1);

    /// <summary>The v2 address family (high nibble: 0 UNSPEC, 1 INET, 2 INET6, 3 UNIX) and transport (low nibble: 0 UNSPEC,
    /// 1 STREAM, 2 DGRAM) byte: byte 13.</summary>
    public static HeaderField V2FamilyAndTransport { get; } = new HeaderField(13, 1);

    /// <summary>The 12-byte v2 signature, <c>\r\n\r\n\0\r\nQUIT\n</c>.</summary>
    public static ReadOnlySpan<byte> V2Signature => "\r\n\r\n\0\r\nQUIT\n"u8;
}
