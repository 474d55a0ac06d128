using System.Buffers;
using System.Buffers.Binary;

namespace HeaderFraming.Tests.Infrastructure;

/// <summary>Payloads that carry a writer id, a sequence number and a checksum of themselves, so a receiver can prove that
/// no frame was lost, duplicated, reordered, interleaved or corrupted.</summary>
public static class Checksummed
{
    public const int Overhead = 12;

    public static byte[] Create(int writer, int sequence, int bodyLength, Random random)
    {
        var payload = new byte[Overhead + bodyLength];
        BinaryPrimitives.WriteInt32LittleEndian(payload, writer);
        BinaryPrimitives.WriteInt32LittleEndian(payload.AsSpan(4), sequence);
        random.NextBytes(payload.AsSpan(Overhead));
        BinaryPrimitives.WriteUInt32LittleEndian(payload.AsSpan(8), Checksum(payload));
        return payload;
    }

    /// <summary>Checks a received payload; returns (writer, sequence).</summary>
    public static (int Writer, int Sequence) Verify(in ReadOnlySequence<byte> received)
    {
        byte[] payload = received.ToArray();
        Assert.True(payload.Length >= Overhead, $"a {payload.Length}-byte payload is too short");
        uint expected = BinaryPrimitives.ReadUInt32LittleEndian(payload.AsSpan(8));
        Assert.True(expected == Checksum(payload), "checksum mismatch: the frame is corrupt or interleaved");
        return (BinaryPrimitives.ReadInt32LittleEndian(payload), BinaryPrimitives.ReadInt32LittleEndian(payload.AsSpan(4)));
    }

    private static uint Checksum(byte[] payload)
    {
        // FNV-1a over everything but the checksum field itself.
        uint hash = 2166136261;
        for (int i = 0; i < payload.Length; i++)
        {
            if (i is >= 8 and < 12)
            {
                continue;
            }

            hash = (hash ^ payload[i]) * 16777619;
        }

        return hash;
    }
}
