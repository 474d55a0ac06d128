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

    /// <summary>
    /// Fills <paramref name="payload"/> (any length, 0 included) with a frame of <paramref name="writer"/> (below 256) that
    /// <see cref="ChecksummedReceiver"/> can check without allocating:
    /// <list type="bullet">
    /// <item>12 bytes or more: the full form of <see cref="Create"/> (writer, sequence, checksum, random body).</item>
    /// <item>1 to 11 bytes: the short form: byte 0 is the writer, the next (up to 4) bytes the low bytes of the sequence in
    /// little-endian order, and any bytes after that a pattern derived from the writer, the sequence and the position.</item>
    /// <item>0 bytes: no identity at all; the receiver can only count them (see <see cref="ChecksummedReceiver"/>). Empty
    /// frames do not use a sequence number: the sender passes the same <paramref name="sequence"/> to its next frame.</item>
    /// </list>
    /// </summary>
    public static void Fill(Span<byte> payload, int writer, int sequence, Random random)
    {
        if (payload.Length >= Overhead)
        {
            BinaryPrimitives.WriteInt32LittleEndian(payload, writer);
            BinaryPrimitives.WriteInt32LittleEndian(payload[4..], sequence);
            random.NextBytes(payload[Overhead..]);
            BinaryPrimitives.WriteUInt32LittleEndian(payload[8..], Checksum(payload));
            return;
        }

        if (payload.IsEmpty)
        {
            return;
        }

        payload[0] = checked((byte)writer);
        for (int i = 1; i < payload.Length; i++)
        {
            payload[i] = ShortFormByte(writer, sequence, i);
        }
    }

    /// <summary>Byte <paramref name="index"/> (1 to 11) of a short-form payload.</summary>
    internal static byte ShortFormByte(int writer, int sequence, int index)
        => index <= 4 ? (byte)(sequence >> (8 * (index - 1))) : (byte)((writer * 31) + (sequence * 7) + index);

    internal static uint Checksum(ReadOnlySpan<byte> payload)
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
