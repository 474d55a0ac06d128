using System.Buffers;

namespace HeaderFraming;

/// <summary>One frame: its header and its payload, as slices of the pipe's own buffers (nothing is copied).</summary>
/// <remarks>
/// <para><b>Lifetime:</b> the memory behind <see cref="Header"/> and <see cref="Payload"/> belongs to the pipe. It stays valid
/// until the next call to <see cref="FrameReader.ReadFrameAsync"/> or <see cref="FrameReader.TryReadFrame(out Frame)"/> (or until the reader
/// is completed). Copy what you need to keep (<c>frame.Payload.ToArray()</c>) before reading again.</para>
/// </remarks>
public readonly struct Frame
{
    internal Frame(ReadOnlySequence<byte> header, ReadOnlySequence<byte> payload, long streamOffset)
    {
        Header = header;
        Payload = payload;
        StreamOffset = streamOffset;
    }

    /// <summary>The header bytes, length field included (for a fixed header with a type byte or an opcode, those too).</summary>
    public ReadOnlySequence<byte> Header { get; }

    /// <summary>The payload bytes: exactly the length the header declared.</summary>
    public ReadOnlySequence<byte> Payload { get; }

    /// <summary>The offset in the stream of the frame's first header byte (bytes since the reader started).</summary>
    public long StreamOffset { get; }
}
