using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Text;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using HeaderFraming.Protocols;
using HeaderFraming.Testing;
using HeaderFraming.Tests.Infrastructure;

namespace HeaderFraming.Tests;

public class ProxyProtocolTests
{
    private const int Cases = 1000;

    private static readonly byte[] s_signature = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A];

    [Fact]
    public void AV2HeaderDecodesToItsAddressBlockLengthWholeSplitAndNotBeforeItsSixteenthByte()
    {
        byte[] wire = V2(0x21, 0x11, [192, 0, 2, 1, 198, 51, 100, 2, 0xDC, 0x04, 0x01, 0xBB]);
        CodecAssert.Decodes(ProxyProtocol.V2Codec, wire, 16, 12);
        Assert.False((IFrameCodec)ProxyProtocol.V2Codec is ILengthFieldCodec);
        Assert.Equal(0x21UL, ProxyProtocol.V2VersionAndCommand.Read(wire));
        Assert.Equal(0x11UL, ProxyProtocol.V2FamilyAndTransport.Read(wire));
    }

    [Property(MaxTest = Cases)]
    public Property AWrongSignatureByteIsRefusedAsSoonAsItArrivesAndTheErrorSaysWhichAndWhatWasExpected() =>
        Prop.ForAll(
            (from index in Gen.Choose(0, 11)
             from value in Gen.Choose(0, 255)
             where value != s_signature[index]
             from extra in Gen.Choose(0, 10)
             select (index, (byte)value, extra)).ToArbitrary(),
            c =>
            {
                byte[] wire = V2(0x21, 0x11, new byte[12]);
                wire[c.index] = c.Item2;
                byte[] received = wire[..Math.Min(wire.Length, c.index + 1 + c.extra)];
                FrameFormatException ex = CodecAssert.InvalidWholeAndSplit(ProxyProtocol.V2Codec, received);
                Assert.Contains($"byte {c.index} of the header is 0x{c.Item2:X2}, expected 0x{s_signature[c.index]:X2}", ex.Problem, StringComparison.Ordinal);
                Assert.Contains("PROXY protocol v2 signature", ex.Problem, StringComparison.Ordinal);
            });

    [Property(MaxTest = Cases)]
    public Property AnyBytesAreAHeaderOnlyWithTheExactSignatureAndAValidVersionAndCommandAndNeverThrow() =>
        Prop.ForAll(
            (from keep in Gen.Choose(0, 16)
             from seed in Gen.Choose(0, int.MaxValue)
             from length in Gen.Choose(0, 24)
             select (keep, seed, length)).ToArbitrary(),
            c =>
            {
                // A valid header's first `keep` bytes, then random bytes.
                byte[] random = Generators.Bytes(c.length, c.seed);
                byte[] valid = V2(0x21, 0x11, new byte[12]);
                byte[] wire = [.. valid[..Math.Min(c.keep, c.length)], .. random[Math.Min(c.keep, c.length)..]];
                OperationStatus status = ProxyProtocol.V2Codec.DecodeHeader(wire, out int h, out long p);
                bool signatureSoFar = wire.AsSpan(0, Math.Min(12, wire.Length)).SequenceEqual(s_signature.AsSpan(0, Math.Min(12, wire.Length)));
                bool byte12Ok = wire.Length <= 12 || wire[12] is 0x20 or 0x21;
                OperationStatus expected = !signatureSoFar || !byte12Ok ? OperationStatus.InvalidData
                    : wire.Length < 16 ? OperationStatus.NeedMoreData : OperationStatus.Done;
                Assert.Equal(expected, status);
                if (status == OperationStatus.Done)
                {
                    Assert.Equal((16, (long)((wire[14] << 8) | wire[15])), (h, p));
                }
                else if (status == OperationStatus.InvalidData)
                {
                    CodecAssert.InvalidWholeAndSplit(ProxyProtocol.V2Codec, wire);
                }
            });

    [Theory]
    [InlineData(0x11, "version 1, expected version 2")]
    [InlineData(0x31, "version 3, expected version 2")]
    [InlineData(0x22, "command 0x2, expected 0x0 (LOCAL) or 0x1 (PROXY)")]
    [InlineData(0x2F, "command 0xF")]
    public void AWrongVersionOrCommandIsRefusedAtByteTwelve(byte versionAndCommand, string expected)
    {
        byte[] wire = V2(versionAndCommand, 0x11, new byte[12]);
        FrameFormatException ex = CodecAssert.InvalidWholeAndSplit(ProxyProtocol.V2Codec, wire[..13]);
        Assert.Contains("byte 12 of the header", ex.Problem, StringComparison.Ordinal);
        Assert.Contains(expected, ex.Problem, StringComparison.Ordinal);
        CodecAssert.InvalidWholeAndSplit(ProxyProtocol.V2Codec, wire);
    }

    [Fact]
    public void AV1LineGivenToTheV2CodecIsRefusedWithAHint()
    {
        FrameFormatException ex = CodecAssert.InvalidWholeAndSplit(ProxyProtocol.V2Codec, Encoding.ASCII.GetBytes("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n"));
        Assert.Contains("byte 0 of the header is 0x50", ex.Problem, StringComparison.Ordinal);
        Assert.Contains("v1 text line", ex.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void WritingAV2HeaderWritesTheSignatureAndLengthAndLeavesVersionAndFamily()
    {
        byte[] header = new byte[16];
        header[12] = 0x21;
        header[13] = 0x21;
        Assert.Equal(16, ProxyProtocol.V2Codec.WriteHeader(36, header));
        Assert.Equal(V2(0x21, 0x21, new byte[36])[..16], header);
        Assert.Throws<ArgumentOutOfRangeException>(() => ProxyProtocol.V2Codec.WriteHeader(65_536, header));
        Assert.Throws<ArgumentException>(() => ProxyProtocol.V2Codec.WriteHeader(1, new byte[15]));
    }

    [Fact]
    public void AProxiedIPv4TcpConnectionGivesTheClientsAndProxysEndpoints()
    {
        byte[] wire = V2(0x21, 0x11, [192, 0, 2, 1, 198, 51, 100, 2, 0xDC, 0x04, 0x01, 0xBB, 0x03, 0x00, 0x04, 1, 2, 3, 4]);
        ProxyHeader header = ProxyHeader.ParseV2(wire.AsSpan(0, 16), wire.AsSpan(16));
        Assert.Equal(2, header.Version);
        Assert.Equal(ProxyCommand.Proxy, header.Command);
        Assert.Equal(AddressFamily.InterNetwork, header.AddressFamily);
        Assert.Equal(SocketType.Stream, header.SocketType);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("192.0.2.1"), 56324), header.SourceEndPoint);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("198.51.100.2"), 443), header.DestinationEndPoint);
        Assert.Equal(new byte[] { 0x03, 0x00, 0x04, 1, 2, 3, 4 }, header.Tlvs.ToArray());
        Assert.Equal("PROXY v2 Proxy Stream 192.0.2.1:56324 -> 198.51.100.2:443", header.ToString());
    }

    [Fact]
    public void AProxiedIPv6UdpConnectionGivesItsEndpoints()
    {
        IPAddress source = IPAddress.Parse("2001:db8::1");
        IPAddress destination = IPAddress.Parse("2001:db8::ff:2");
        byte[] wire = V2(0x21, 0x22, [.. source.GetAddressBytes(), .. destination.GetAddressBytes(), 0x30, 0x39, 0x00, 0x35]);
        ProxyHeader header = ProxyHeader.ParseV2(wire.AsSpan(0, 16), wire.AsSpan(16));
        Assert.Equal(AddressFamily.InterNetworkV6, header.AddressFamily);
        Assert.Equal(SocketType.Dgram, header.SocketType);
        Assert.Equal(new IPEndPoint(source, 12345), header.SourceEndPoint);
        Assert.Equal(new IPEndPoint(destination, 53), header.DestinationEndPoint);
        Assert.True(header.Tlvs.IsEmpty);
    }

    [Theory]
    [InlineData(0x20, 0x00)]
    [InlineData(0x20, 0x11)]
    [InlineData(0x20, 0xFF)]
    [InlineData(0x21, 0x00)]
    public void LocalConnectionsAndUnspecifiedFamiliesHaveNoEndpoints(byte versionAndCommand, byte family)
    {
        byte[] wire = V2(versionAndCommand, family, family == 0x11 ? new byte[12] : []);
        ProxyHeader header = ProxyHeader.ParseV2(wire.AsSpan(0, 16), wire.AsSpan(16));
        Assert.Equal(versionAndCommand == 0x20 ? ProxyCommand.Local : ProxyCommand.Proxy, header.Command);
        Assert.Null(header.SourceEndPoint);
        Assert.Null(header.DestinationEndPoint);
    }

    [Theory]
    [InlineData(0x11, 11, "address block has 11 bytes; family 0x1 (InterNetwork) needs 12")]
    [InlineData(0x21, 35, "needs 36")]
    [InlineData(0x41, 12, "byte 13 of the PROXY v2 header is 0x41")]
    [InlineData(0x13, 12, "byte 13 of the PROXY v2 header is 0x13")]
    public void AProxiedConnectionWithAnUnknownFamilyOrAShortAddressBlockIsRefused(byte family, int blockLength, string expected)
    {
        byte[] wire = V2(0x21, family, new byte[blockLength]);
        var ex = Assert.Throws<FrameFormatException>(() => ProxyHeader.ParseV2(wire.AsSpan(0, 16), wire.AsSpan(16)));
        Assert.Contains(expected, ex.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void AnAddressBlockOfAnotherLengthThanTheHeaderDeclaresIsRefused()
    {
        byte[] wire = V2(0x21, 0x11, new byte[12]);
        var ex = Assert.Throws<FrameFormatException>(() => ProxyHeader.ParseV2(wire.AsSpan(0, 16), wire.AsSpan(16, 11)));
        Assert.Contains("declares 12 bytes after it (bytes 14-15), but 11 were given", ex.Problem, StringComparison.Ordinal);
        Assert.Throws<FrameFormatException>(() => ProxyHeader.ParseV2(wire.AsSpan(0, 15), wire.AsSpan(16)));
    }

    [Fact]
    public async Task AServerReadsTheV2HeaderAsAFrameAndTheApplicationsBytesStayForTheNextCodec()
    {
        byte[] wire = [.. V2(0x21, 0x11, [127, 0, 0, 1, 127, 0, 0, 2, 0x04, 0xD2, 0x16, 0x2E]), .. "22        Welcome"u8];
        foreach (ReadOnlySequence<byte> input in new[] { new ReadOnlySequence<byte>(wire), SegmentedSequence.OneByteSegments(wire) })
        {
            var pipe = new ChunkedPipeReader(input, [3]);
            var reader = new FrameReader(pipe, ProxyProtocol.V2Codec);
            FrameReadResult result = await reader.ReadFrameAsync();
            ProxyHeader header = ProxyHeader.ParseV2(result.Frame);
            Assert.Equal(new IPEndPoint(IPAddress.Loopback, 1234), header.SourceEndPoint);
            Assert.Equal(new IPEndPoint(IPAddress.Parse("127.0.0.2"), 5678), header.DestinationEndPoint);
            Assert.Equal(28, reader.Position);
        }
    }

    [Property(MaxTest = Cases)]
    public Property AnyIPv4OrIPv6EndpointsRoundTripThroughAV2Header() =>
        Prop.ForAll(Endpoints().ToArbitrary(), e =>
        {
            byte[] block = [.. e.Source.Address.GetAddressBytes(), .. e.Destination.Address.GetAddressBytes(),
                (byte)(e.Source.Port >> 8), (byte)e.Source.Port, (byte)(e.Destination.Port >> 8), (byte)e.Destination.Port, .. e.Tlvs];
            byte family = e.Source.AddressFamily == AddressFamily.InterNetwork ? (byte)0x11 : (byte)0x21;
            byte[] wire = V2(0x21, family, block);
            CodecAssert.Decodes(ProxyProtocol.V2Codec, wire, 16, block.Length);
            ProxyHeader header = ProxyHeader.ParseV2(wire.AsSpan(0, 16), wire.AsSpan(16));
            Assert.Equal(e.Source, header.SourceEndPoint);
            Assert.Equal(e.Destination, header.DestinationEndPoint);
            Assert.Equal(e.Tlvs, header.Tlvs.ToArray());
        });

    [Theory]
    [InlineData("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n", "192.168.0.1", 56324, "192.168.0.11", 443)]
    [InlineData("PROXY TCP6 ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n", null, 0, null, 0)]
    [InlineData("PROXY TCP6 2001:db8::1 ::1 0 65535\r\n", "2001:db8::1", 0, "::1", 65535)]
    public void V1LinesGiveTheirEndpointsWholeAndByteByByte(string line, string? source, int sourcePort, string? destination, int destinationPort)
    {
        byte[] bytes = [.. Encoding.ASCII.GetBytes(line), .. "rest"u8];
        if (source is null)
        {
            Assert.Throws<FrameFormatException>(() => ProxyHeader.TryParseV1(new ReadOnlySequence<byte>(bytes), out _, out _));
            return;
        }

        foreach (ReadOnlySequence<byte> input in new[] { new ReadOnlySequence<byte>(bytes), SegmentedSequence.OneByteSegments(bytes) })
        {
            Assert.True(ProxyHeader.TryParseV1(input, out ProxyHeader? header, out SequencePosition consumed));
            Assert.Equal(1, header.Version);
            Assert.Equal(ProxyCommand.Proxy, header.Command);
            Assert.Equal(new IPEndPoint(IPAddress.Parse(source), sourcePort), header.SourceEndPoint);
            Assert.Equal(new IPEndPoint(IPAddress.Parse(destination!), destinationPort), header.DestinationEndPoint);
            Assert.Equal("rest"u8.ToArray(), input.Slice(consumed).ToArray());
        }

        for (int i = 0; i < line.Length; i++)
        {
            Assert.False(ProxyHeader.TryParseV1(SegmentedSequence.OneByteSegments(bytes[..i]), out _, out SequencePosition none), $"a prefix of {i} bytes parsed");
            Assert.Equal(0, none.GetInteger());
        }
    }

    [Fact]
    public void AV1UnknownLineHasNoEndpointsAndItsRestIsIgnored()
    {
        byte[] bytes = Encoding.ASCII.GetBytes("PROXY UNKNOWN ffff::1 whatever\r\nX");
        Assert.True(ProxyHeader.TryParseV1(new ReadOnlySequence<byte>(bytes), out ProxyHeader? header, out SequencePosition consumed));
        Assert.Null(header.SourceEndPoint);
        Assert.Equal(bytes.Length - 1, consumed.GetInteger());
    }

    [Theory]
    [InlineData("GET / HTTP/1.1\r\n", "byte 0 of the PROXY v1 line is 0x47, expected 'P'")]
    [InlineData("PROXX", "byte 4 of the PROXY v1 line is 0x58, expected 'Y'")]
    [InlineData("PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", "protocol is \"TCP5\"")]
    [InlineData("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", "5 space-separated fields, expected 6")]
    [InlineData("PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n", "source address is \"1.2.3\"")]
    [InlineData("PROXY TCP4 1.2.3.4 ::1 1 2\r\n", "destination address is \"::1\"")]
    [InlineData("PROXY TCP4 010.2.3.4 5.6.7.8 1 2\r\n", "source address is \"010.2.3.4\", expected an IPv4 dotted-quad address")]
    [InlineData("PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n", "source address is \"1.2.3.256\"")]
    [InlineData("PROXY TCP4 1.2.3.4 5.6.7.8. 1 2\r\n", "destination address is \"5.6.7.8.\"")]
    [InlineData("PROXY TCP6 1.2.3.4 ::1 1 2\r\n", "source address is \"1.2.3.4\", expected an IPv6 address")]
    [InlineData("PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", "source port is \"65536\"")]
    [InlineData("PROXY TCP4 1.2.3.4 5.6.7.8 1 080\r\n", "destination port is \"080\"")]
    [InlineData("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", "a LF without a CR before it")]
    public void MalformedV1LinesAreRefusedWithWhatIsWrong(string line, string expected)
    {
        byte[] bytes = Encoding.ASCII.GetBytes(line);
        var ex = Assert.Throws<FrameFormatException>(() => ProxyHeader.TryParseV1(SegmentedSequence.OneByteSegments(bytes), out _, out _));
        Assert.Contains(expected, ex.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void AV1LineWithoutAnEndWithinOneHundredAndSevenBytesIsRefused()
    {
        byte[] bytes = Encoding.ASCII.GetBytes("PROXY UNKNOWN " + new string('x', 92));
        Assert.Equal(106, bytes.Length);
        Assert.False(ProxyHeader.TryParseV1(new ReadOnlySequence<byte>(bytes), out _, out _));
        var ex = Assert.Throws<FrameFormatException>(() => ProxyHeader.TryParseV1(new ReadOnlySequence<byte>([.. bytes, (byte)'x']), out _, out _));
        Assert.Contains("no LF within its first 107 bytes", ex.Problem, StringComparison.Ordinal);
        Assert.True(ProxyHeader.TryParseV1(new ReadOnlySequence<byte>([.. bytes[..105], (byte)'\r', (byte)'\n']), out _, out _));
    }

    [Property(MaxTest = Cases)]
    public Property AnyV1LineParsesWhateverItsSegmentation() =>
        Prop.ForAll(
            (from e in Endpoints()
             from cuts in Gen.Choose(0, 110).ArrayOf()
             select (e, cuts)).ToArbitrary(),
            c =>
            {
                (IPEndPoint source, IPEndPoint destination, _) = c.e;
                string protocol = source.AddressFamily == AddressFamily.InterNetwork ? "TCP4" : "TCP6";
                byte[] bytes = Encoding.ASCII.GetBytes($"PROXY {protocol} {source.Address} {destination.Address} {source.Port} {destination.Port}\r\nAPP");
                ReadOnlySequence<byte> input = SegmentedSequence.Split(bytes, c.cuts);
                Assert.True(ProxyHeader.TryParseV1(input, out ProxyHeader? header, out SequencePosition consumed));
                Assert.Equal(source, header.SourceEndPoint);
                Assert.Equal(destination, header.DestinationEndPoint);
                Assert.Equal("APP"u8.ToArray(), input.Slice(consumed).ToArray());
            });

    private static byte[] V2(byte versionAndCommand, byte family, byte[] block)
        => [.. s_signature, versionAndCommand, family, (byte)(block.Length >> 8), (byte)block.Length, .. block];

    private static Gen<(IPEndPoint Source, IPEndPoint Destination, byte[] Tlvs)> Endpoints() =>
        from v6 in Gen.Elements(false, true)
        from seed in Gen.Choose(0, int.MaxValue)
        from sourcePort in Gen.Choose(0, 65535)
        from destinationPort in Gen.Choose(0, 65535)
        from tlvLength in Gen.Frequency((3, Gen.Constant(0)), (1, Gen.Choose(1, 40)))
        let size = v6 ? 16 : 4
        let bytes = Generators.Bytes((2 * size) + tlvLength, seed)
        select (new IPEndPoint(new IPAddress(bytes[..size]), sourcePort), new IPEndPoint(new IPAddress(bytes[size..(2 * size)]), destinationPort), bytes[(2 * size)..]);
}
