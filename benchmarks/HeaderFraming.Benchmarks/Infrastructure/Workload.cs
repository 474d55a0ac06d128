using System.Buffers;

namespace HeaderFraming.Benchmarks.Infrastructure;

/// <summary>
/// A buffer of consecutive frames (header + payload) encoded with one codec, and what decoding it must produce: the frame
/// count and a checksum over every payload's length, first byte and last byte. Payload bytes are lowercase ASCII so the
/// seed tutorial's string-based client can decode them too.
/// </summary>
public sealed class Workload
{
    /// <summary>The size the frame count is derived from: 16 MiB by default; the tests shrink it.</summary>
    public static int BufferBytes { get; set; } = 16 << 20;

    private Workload(IFrameCodec codec, int payloadSize, int frameCount, byte[] buffer, int[] frameEnds, long checksum)
    {
        Codec = codec;
        PayloadSize = payloadSize;
        FrameCount = frameCount;
        Buffer = buffer;
        FrameEnds = frameEnds;
        Checksum = checksum;
    }

    public IFrameCodec Codec { get; }

    public int PayloadSize { get; }

    public int FrameCount { get; }

    public byte[] Buffer { get; }

    /// <summary>The offset just past each frame (used only by the harness, e.g. to feed one message per receive).</summary>
    public int[] FrameEnds { get; }

    public long Checksum { get; }

    /// <summary>The number of frames in every workload of this payload size, whatever the codec: 16 MiB / (payload + 4).</summary>
    public static int FrameCountFor(int payloadSize) => Math.Max(1, BufferBytes / (payloadSize + 4));

    public static byte PayloadByte(int frame, int index) => (byte)('a' + ((frame + index) % 26));

    /// <summary>What one frame adds to the checksum.</summary>
    public static long FrameSum(int length, byte first, byte last) => length + ((long)first << 8) + ((long)last << 20);

    /// <summary>The checksum frame <paramref name="frame"/> of this generator contributes.</summary>
    public static long ExpectedFrameSum(int frame, int payloadSize)
        => FrameSum(payloadSize, PayloadByte(frame, 0), PayloadByte(frame, payloadSize - 1));

    public static Workload Create(IFrameCodec codec, int payloadSize) => Create(codec, payloadSize, FrameCountFor(payloadSize));

    public static Workload Create(IFrameCodec codec, int payloadSize, int frameCount)
    {
        if (payloadSize < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(payloadSize), "Payloads are at least one byte (the checksum reads the first and last).");
        }

        int headerLength = codec.GetHeaderLength(payloadSize);
        var buffer = new byte[checked((headerLength + payloadSize) * frameCount)];
        var ends = new int[frameCount];
        long checksum = 0;
        int position = 0;
        for (int i = 0; i < frameCount; i++)
        {
            codec.WriteHeader(payloadSize, buffer.AsSpan(position));
            position += headerLength;
            Span<byte> payload = buffer.AsSpan(position, payloadSize);
            for (int j = 0; j < payload.Length; j++)
            {
                payload[j] = PayloadByte(i, j);
            }

            position += payloadSize;
            ends[i] = position;
            checksum += ExpectedFrameSum(i, payloadSize);
        }

        return new Workload(codec, payloadSize, frameCount, buffer, ends, checksum);
    }
}

/// <summary>Payload touching and result checks shared by every benchmark.</summary>
public static class Check
{
    public static long Touch(ReadOnlySpan<byte> payload) => Workload.FrameSum(payload.Length, payload[0], payload[^1]);

    public static long Touch(in ReadOnlySequence<byte> payload)
    {
        if (payload.IsSingleSegment)
        {
            return Touch(payload.FirstSpan);
        }

        byte last = payload.Slice(payload.Length - 1).FirstSpan[0];
        return Workload.FrameSum((int)payload.Length, payload.FirstSpan[0], last);
    }

    /// <summary>What a user of <see cref="Frame"/> does: the payload span when the frame is contiguous (almost always), the
    /// sequence otherwise.</summary>
    public static long Touch(in Frame frame) => frame.IsContiguous ? Touch(frame.PayloadSpan) : Touch(frame.Payload);

    /// <summary>Throws unless a decoder produced exactly the expected frames.</summary>
    public static void Frames(string benchmark, long frames, long checksum, long expectedFrames, long expectedChecksum)
    {
        if (frames != expectedFrames || checksum != expectedChecksum)
        {
            throw new InvalidOperationException(
                $"{benchmark} decoded {frames} frames with checksum {checksum}; expected {expectedFrames} frames with checksum {expectedChecksum}. The benchmark is broken: its time means nothing.");
        }
    }

    public static void Frames(string benchmark, long frames, long checksum, Workload workload)
        => Frames(benchmark, frames, checksum, workload.FrameCount, workload.Checksum);

    /// <summary>
    /// Throws unless an encoder wrote exactly <paramref name="expected"/>. Up to 1 MiB (the tests' workloads) every byte is
    /// compared; above, the byte count, the first and last 64 bytes and 256 strided 8-byte windows (O(1) per invocation, so
    /// the check does not dilute the timing of a 16 MiB encode).
    /// </summary>
    public static void Encoded(string benchmark, ReadOnlySpan<byte> written, ReadOnlySpan<byte> expected)
    {
        if (written.Length != expected.Length)
        {
            throw new InvalidOperationException($"{benchmark} wrote {written.Length} bytes; expected {expected.Length}.");
        }

        if (expected.Length <= (1 << 20))
        {
            if (!written.SequenceEqual(expected))
            {
                throw new InvalidOperationException($"{benchmark} wrote bytes that differ from the reference encoding.");
            }

            return;
        }

        int edge = Math.Min(64, expected.Length);
        bool ok = written[..edge].SequenceEqual(expected[..edge]) && written[^edge..].SequenceEqual(expected[^edge..]);
        int stride = Math.Max(1, expected.Length / 256);
        for (int i = 0; ok && i + 8 <= expected.Length; i += stride)
        {
            ok = written.Slice(i, 8).SequenceEqual(expected.Slice(i, 8));
        }

        if (!ok)
        {
            throw new InvalidOperationException($"{benchmark} wrote bytes that differ from the reference encoding.");
        }
    }
}
