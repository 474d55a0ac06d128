using System.Buffers;

namespace HeaderFraming.Protocols;

/// <summary>The outcome of <see cref="MySqlPacketReader.ReadMessageAsync"/>: one whole message (its packets joined), or the
/// end of the stream, or a cancelled read. Mirrors <see cref="FrameReadResult"/>.</summary>
/// <remarks><b>Lifetime:</b> <see cref="Payload"/> is valid until the next read or until the reader is disposed. A message of
/// one packet is the pipe's own memory (nothing copied); a message of several packets is one pooled buffer of the reader's.</remarks>
public readonly struct MySqlMessage
{
    private readonly byte _flags;

    internal MySqlMessage(ReadOnlySequence<byte> payload, int packetCount, byte firstSequenceId, byte lastSequenceId)
    {
        Payload = payload;
        PacketCount = packetCount;
        FirstSequenceId = firstSequenceId;
        LastSequenceId = lastSequenceId;
        _flags = 0;
    }

    private MySqlMessage(byte flags)
    {
        Payload = ReadOnlySequence<byte>.Empty;
        PacketCount = 0;
        FirstSequenceId = 0;
        LastSequenceId = 0;
        _flags = flags;
    }

    /// <summary>The message's payload: every packet's payload, in order, without their headers.</summary>
    public ReadOnlySequence<byte> Payload { get; }

    /// <summary>How many packets carried the message: 1, or more when its payload is 16,777,215 bytes or longer.</summary>
    public int PacketCount { get; }

    /// <summary>The sequence id of the message's first packet.</summary>
    public byte FirstSequenceId { get; }

    /// <summary>The sequence id of the message's last packet (the next packet is expected to carry this plus one).</summary>
    public byte LastSequenceId { get; }

    /// <summary><see langword="true"/> when the stream ended cleanly, exactly between two messages.</summary>
    public bool IsCompleted => _flags == 1;

    /// <summary><see langword="true"/> when the underlying read was cancelled (<see cref="FrameReader.CancelPendingRead"/>).
    /// A message whose first packets were already read is kept: the next read goes on with it.</summary>
    public bool IsCanceled => _flags == 2;

    /// <summary><see langword="true"/> when <see cref="Payload"/> holds a message.</summary>
    public bool HasMessage => _flags == 0;

    internal static MySqlMessage Completed => new MySqlMessage(1);

    internal static MySqlMessage Canceled => new MySqlMessage(2);
}
