using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Text;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using HeaderFraming.Codecs;
using HeaderFraming.Tests.Infrastructure;
using static HeaderFraming.Tests.Infrastructure.FrameTestKit;

namespace HeaderFraming.Tests;

/// <summary>
/// A peer that speaks another protocol, or lies about lengths, and never stops sending: each hostile header gives its typed
/// error after the frames before it, and the bytes the reader kept buffered stay within MaxFrameLength + header + one read
/// segment (for a header-level error, within header + one segment) — measured on the buffers handed to the reader.
/// </summary>
public class HostileInputTests
{
    private const long MaxFrameLength = 64 * 1024;
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(10);

    // A TLS 1.2 ClientHello record's first bytes: handshake (0x16), version 3.1, record length, ClientHello (0x01).
    private static readonly byte[] s_tlsClientHello = Convert.FromHexString(
        "160301006a01000066030300112233445566778899aabbccddeeff00112233445566778899aabbccddeeff00000813011302130300ff0100");

    private static readonly byte[] s_httpRequest = Ascii("GET / HTTP/1.1\r\nHost: example\r\n\r\n");

    private static readonly Dictionary<string, HostileCase> s_cases = new HostileCase[]
    {
        new("HTTP request, ASCII header", AsciiDecimalCodec.Default, s_httpRequest, (byte)'x', FrameErrorKind.Malformed, "HTTP"),
        new("HTTP request, 4-byte length", BinaryLengthCodec.UInt32BigEndian, s_httpRequest, (byte)'x', FrameErrorKind.TooLarge, "HTTP"),
        new("TLS ClientHello, ASCII header", AsciiDecimalCodec.Default, s_tlsClientHello, 0, FrameErrorKind.Malformed, "TLS"),
        new("TLS ClientHello, 4-byte length", BinaryLengthCodec.UInt32BigEndian, s_tlsClientHello, 0, FrameErrorKind.TooLarge, "TLS"),
        new("9999999999", AsciiDecimalCodec.Default, Ascii("9999999999"), (byte)'9', FrameErrorKind.TooLarge, null),
        new("19 nines overflow a 63-bit length", new AsciiDecimalCodec(19, AsciiAlignment.ZeroPadded), Ascii("9999999999999999999"), (byte)'9', FrameErrorKind.Malformed, null),
        new("non-digits", AsciiDecimalCodec.Default, Ascii("12ab      "), (byte)'x', FrameErrorKind.Malformed, null),
        new("minus sign", AsciiDecimalCodec.Default, Ascii("-5        "), (byte)'x', FrameErrorKind.Malformed, null),
        new("plus sign, right-aligned", new AsciiDecimalCodec(6, AsciiAlignment.Right), Ascii("    +5"), (byte)'x', FrameErrorKind.Malformed, null),
        new("all spaces", AsciiDecimalCodec.Default, Ascii("          "), (byte)' ', FrameErrorKind.Malformed, null),
        new("all spaces, right-aligned", new AsciiDecimalCodec(6, AsciiAlignment.Right), Ascii("      "), (byte)' ', FrameErrorKind.Malformed, null),
        new("interior space", AsciiDecimalCodec.Default, Ascii("1 2       "), (byte)'x', FrameErrorKind.Malformed, null),
        new("varint that never ends", VarintCodec.Instance, [], 0xFF, FrameErrorKind.Malformed, null),
        new("10-byte varint", VarintCodec.Instance, [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01], 0, FrameErrorKind.Malformed, null),
        new("largest 9-byte varint", VarintCodec.Instance, [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F], 0, FrameErrorKind.TooLarge, null),
        new("over-long varint", VarintCodec.Instance, [0x80, 0x00], 0, FrameErrorKind.Malformed, null),
        new("8-byte length overflowing after adjustment", new BinaryLengthCodec(8, Endianness.BigEndian, lengthAdjustment: 1),
            [0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF], 0, FrameErrorKind.Malformed, null),
        new("8-byte length above 63 bits", new BinaryLengthCodec(8, Endianness.LittleEndian), [0, 0, 0, 0, 0, 0, 0, 0x80], 0, FrameErrorKind.Malformed, null),
        new("PostgreSQL length below its own 4 bytes", new BinaryLengthCodec(4, Endianness.BigEndian, fieldOffset: 1, headerLength: 5, lengthAdjustment: -4),
            [(byte)'Q', 0, 0, 0, 2], 0, FrameErrorKind.Malformed, null),
        new("length counting the header, shorter than the header", new BinaryLengthCodec(2, Endianness.BigEndian, headerLength: 6, lengthIncludesHeader: true),
            [0, 5, 0, 0, 0, 0], 0, FrameErrorKind.Malformed, null),
        new("memcached body length of 4 GiB", new BinaryLengthCodec(4, Endianness.BigEndian, fieldOffset: 8, headerLength: 24),
            [0x81, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 0, FrameErrorKind.TooLarge, null),
        new("one byte over MaxFrameLength", BinaryLengthCodec.UInt32BigEndian, [0, 1, 0, 1], 0, FrameErrorKind.TooLarge, null),
    }.ToDictionary(c => c.Name);

    public static TheoryData<string, int> Cases()
    {
        var data = new TheoryData<string, int>();
        foreach (string name in s_cases.Keys)
        {
            foreach (int segmentSize in new[] { 1, 7, 4096 })
            {
                data.Add(name, segmentSize);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task HostileHeaderAfterAValidFrameGivesItsTypedErrorAndBuffersAtMostAHeaderAndASegment(string name, int segmentSize)
    {
        HostileCase c = s_cases[name];
        byte[] hello = Encode(c.Codec, new[] { Ascii("hello") });
        var pipe = new EndlessPipeReader([.. hello, .. c.Header], c.Filler, segmentSize);
        var reader = new FrameReader(pipe, c.Codec, new FrameReaderOptions { MaxFrameLength = MaxFrameLength });

        FrameReadResult first = await reader.ReadFrameAsync().AsTask().WaitAsync(s_timeout);
        Assert.Equal("hello", Encoding.ASCII.GetString(first.Frame.Payload.ToArray()));

        FrameException error = await Assert.ThrowsAnyAsync<FrameException>(() => reader.ReadFrameAsync().AsTask().WaitAsync(s_timeout));
        Assert.Equal(c.Kind, error.Kind);
        Assert.Equal(hello.Length, error.StreamOffset);
        Assert.StartsWith(Convert.ToHexString(error.Header.Span), Convert.ToHexString([.. c.Header, .. Enumerable.Repeat(c.Filler, c.Codec.MaxHeaderLength)]));
        if (c.Hint != null)
        {
            Assert.Contains(c.Hint, error.Message, StringComparison.Ordinal);
        }

        Assert.Equal(hello.Length, reader.Position);

        // The error is known from the header alone: the reader never held more than the larger of the valid frame and the
        // hostile header, plus the segment that completed it...
        Assert.InRange(pipe.MaxBuffered, 1, Math.Max(hello.Length, c.Codec.MaxHeaderLength) + segmentSize);
        // ...far inside the documented bound, whatever the header declared.
        Assert.True(pipe.MaxBuffered <= MaxFrameLength + c.Codec.MaxHeaderLength + segmentSize);

        // Faulted: the same error again, without reading more.
        long sent = pipe.Sent;
        FrameException again = await Assert.ThrowsAnyAsync<FrameException>(() => reader.ReadFrameAsync().AsTask().WaitAsync(s_timeout));
        Assert.Same(error, again);
        Assert.Equal(sent, pipe.Sent);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4096)]
    public async Task AFrameOfExactlyMaxFrameLengthIsBufferedWhole(int segmentSize)
    {
        byte[] header = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(header, (uint)MaxFrameLength);
        var pipe = new EndlessPipeReader(header, 0xFF, segmentSize);
        var reader = new FrameReader(pipe, BinaryLengthCodec.UInt32BigEndian, new FrameReaderOptions { MaxFrameLength = MaxFrameLength });

        FrameReadResult result = await reader.ReadFrameAsync().AsTask().WaitAsync(s_timeout);
        Assert.Equal(MaxFrameLength, result.Frame.Payload.Length);
        Assert.InRange(pipe.MaxBuffered, MaxFrameLength + 4, MaxFrameLength + 4 + segmentSize);

        // The next header (0xFFFFFFFF) is refused without buffering its payload.
        long before = pipe.Sent;
        await Assert.ThrowsAsync<FrameTooLargeException>(() => reader.ReadFrameAsync().AsTask().WaitAsync(s_timeout));
        Assert.InRange(pipe.Sent - before, 0, 4 + segmentSize);
    }

    [Fact]
    public async Task AnHttpClientStreamingIntoARealPipeIsStoppedAtItsFirstBytes()
    {
        // A real Pipe and a writer pushing continuously: the reader refuses the request line at once, completes its side,
        // and the writer learns it (FlushResult.IsCompleted) instead of filling memory.
        const int segment = 4096;
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 16 * segment, resumeWriterThreshold: 8 * segment, minimumSegmentSize: segment));
        var recording = new RecordingPipeReader(pipe.Reader);
        long pushed = 0;
        Task writer = Task.Run(async () =>
        {
            await pipe.Writer.WriteAsync(s_httpRequest);
            byte[] body = new byte[segment];
            body.AsSpan().Fill((byte)'a');
            while (pushed < 512L * 1024 * 1024)
            {
                FlushResult flush = await pipe.Writer.WriteAsync(body);
                pushed += body.Length;
                if (flush.IsCompleted)
                {
                    break;
                }
            }

            await pipe.Writer.CompleteAsync();
        });

        var reader = new FrameReader(recording, AsciiDecimalCodec.Default, new FrameReaderOptions { MaxFrameLength = MaxFrameLength });
        FrameFormatException error = await Assert.ThrowsAsync<FrameFormatException>(() => reader.ReadFrameAsync().AsTask().WaitAsync(s_timeout));
        reader.Complete();
        await writer.WaitAsync(s_timeout);

        Assert.Contains("HTTP", error.Message, StringComparison.Ordinal);
        Assert.InRange(recording.MaxBuffered, 10, s_httpRequest.Length + (16 * segment) + segment);
        Assert.True(pushed < 64 * segment, $"the writer pushed {pushed:N0} bytes before learning the reader had stopped");
    }

    [Property(MaxTest = 1000)]
    public Property WhateverThePeerSendsTheReaderNeverBuffersMoreThanMaxFrameLengthPlusAHeaderPlusASegment()
    {
        Gen<(CodecCase, byte[], byte, int, long, int)> gen =
            from codec in Generators.Codec()
            from prefixLength in Gen.Choose(0, 64)
            from seed in Gen.Choose(0, int.MaxValue)
            from filler in Gen.Choose(0, 255)
            from segment in Gen.Frequency((1, Gen.Choose(1, 16)), (3, Gen.Choose(17, 8192)))
            from max in Gen.Frequency((1, Gen.Choose(0, 64)), (3, Gen.Choose(65, 20_000)))
            from length in Gen.Choose(0, 40_000)
            select (codec, Generators.Bytes(prefixLength, seed), (byte)filler, segment, (long)max, prefixLength + length);
        return Prop.ForAll(gen.ToArbitrary(), t =>
        {
            (CodecCase codec, byte[] prefix, byte filler, int segment, long max, int total) = t;
            var pipe = new EndlessPipeReader(prefix, filler, segment, endAfter: total);
            try
            {
                DecodeAllAsync(pipe, codec.Codec, new FrameReaderOptions { MaxFrameLength = max }).WaitAsync(s_timeout).GetAwaiter().GetResult();
            }
            catch (FrameException ex)
            {
                Assert.InRange(ex.StreamOffset, 0, total);
            }

            Assert.True(pipe.MaxBuffered <= max + codec.Codec.MaxHeaderLength + segment,
                $"buffered {pipe.MaxBuffered:N0} bytes; bound {max} + {codec.Codec.MaxHeaderLength} + {segment}");
        });
    }

    private sealed record HostileCase(string Name, IFrameCodec Codec, byte[] Header, byte Filler, FrameErrorKind Kind, string? Hint);
}
