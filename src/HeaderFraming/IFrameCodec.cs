using System;
using System.Buffers;

namespace HeaderFraming;

/// <summary>
/// Turns the bytes at the start of a frame into the frame's header and payload lengths, and back. A codec does no I/O:
/// it never sees a pipe, a stream or a task, so it can be tested, fuzzed and benchmarked on its own.
/// </summary>
/// <remarks>
/// <para>A frame on the wire is a header followed by a payload:</para>
/// <code>
/// +----------------------+---------------------------+
/// | header (H bytes)     | payload (length from H)   |
/// +----------------------+---------------------------+
/// </code>
/// <para>Decoding has exactly three outcomes, returned as values (<see cref="DecodeHeader"/> never throws for bad input):
/// <see cref="OperationStatus.Done"/> with the lengths; <see cref="OperationStatus.NeedMoreData"/> because the header is not
/// complete yet (nothing is consumed: the caller offers more bytes later); <see cref="OperationStatus.InvalidData"/> because the
/// bytes can never become a valid header. For the last, the caller asks the cold <see cref="CreateHeaderException"/> for the
/// <see cref="FrameFormatException"/> that says what was wrong; <see cref="FrameReader"/> latches it as its fault.</para>
/// <para>The built-in codecs are <see cref="Codecs.AsciiDecimalCodec"/> (the seed's <c>f"{len:&lt;10}"</c> header),
/// <see cref="Codecs.BinaryLengthCodec"/> (a 1–8 byte integer inside a fixed header) and <see cref="Codecs.VarintCodec"/>
/// (an unsigned LEB128 prefix). Implementations must be thread-safe for concurrent calls (the built-ins are immutable).</para>
/// <para>A codec whose length is an integer at a fixed place of a fixed header should also implement
/// <see cref="ILengthFieldCodec"/>: the drivers then decode it inline. To decode a header that may be split across the
/// segments of a <see cref="ReadOnlySequence{T}"/>, use
/// <see cref="FrameCodecExtensions.DecodeHeader(IFrameCodec, in ReadOnlySequence{byte}, out int, out long)"/>.</para>
/// </remarks>
public interface IFrameCodec
{
    /// <summary>The most bytes a header can occupy. For a fixed-width codec, the length of every header.</summary>
    int MaxHeaderLength { get; }

    /// <summary>
    /// <see langword="true"/> when every header has <see cref="MaxHeaderLength"/> bytes whatever the payload length.
    /// Only then can a <see cref="FrameWriter"/> reserve the header, let a serializer write the payload straight into the
    /// pipe, and back-patch the length afterwards without copying the payload.
    /// </summary>
    bool IsFixedWidth { get; }

    /// <summary>The longest payload a header of this codec can describe (e.g. 9,999,999,999 for a 10-digit ASCII header).</summary>
    long MaxPayloadLength { get; }

    /// <summary>Decodes the header at the start of <paramref name="source"/>.</summary>
    /// <param name="source">The bytes received so far, starting at the first byte of a header. It may hold fewer bytes than
    /// a header (the codec then asks for more) or many more (the payload and later frames, which the codec ignores).</param>
    /// <param name="headerLength">On <see cref="OperationStatus.Done"/>, how many bytes the header occupies; otherwise 0.</param>
    /// <param name="payloadLength">On <see cref="OperationStatus.Done"/>, the payload length the header declares (after any
    /// length adjustment, never negative); otherwise 0.</param>
    /// <returns><see cref="OperationStatus.Done"/>, <see cref="OperationStatus.NeedMoreData"/> or
    /// <see cref="OperationStatus.InvalidData"/>; never <see cref="OperationStatus.DestinationTooSmall"/> (a driver treats it as
    /// invalid data).</returns>
    OperationStatus DecodeHeader(ReadOnlySpan<byte> source, out int headerLength, out long payloadLength);

    /// <summary>Builds the exception for a header that <see cref="DecodeHeader"/> found invalid: what is wrong, in the codec's
    /// words (which byte, which value), with the header bytes. Called once per fault, never on the hot path.</summary>
    /// <param name="source">The same bytes <see cref="DecodeHeader"/> returned <see cref="OperationStatus.InvalidData"/> for.</param>
    /// <returns>The exception (not thrown: the caller throws it).</returns>
    FrameFormatException CreateHeaderException(ReadOnlySpan<byte> source);

    /// <summary>How many bytes the header of a payload of <paramref name="payloadLength"/> bytes occupies.</summary>
    /// <param name="payloadLength">The payload length, from 0 to <see cref="MaxPayloadLength"/>.</param>
    /// <returns>The header length in bytes.</returns>
    int GetHeaderLength(long payloadLength);

    /// <summary>Writes the length of a payload into the header at the start of <paramref name="destination"/>.</summary>
    /// <param name="payloadLength">The payload length, from 0 to <see cref="MaxPayloadLength"/>.</param>
    /// <param name="destination">Where the header goes; at least <see cref="GetHeaderLength"/> bytes. Bytes of a fixed
    /// header that are not part of the length field (a type byte, an opcode) are left as they are, so a caller can fill them first.</param>
    /// <returns>The number of header bytes, as <see cref="GetHeaderLength"/> returns.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="payloadLength"/> is negative or does not fit the header; a length is never truncated.</exception>
    int WriteHeader(long payloadLength, Span<byte> destination);
}
