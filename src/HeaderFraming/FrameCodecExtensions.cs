using System;
using System.Buffers;
using System.Diagnostics;

namespace HeaderFraming;

/// <summary>Helpers over <see cref="IFrameCodec"/>.</summary>
public static class FrameCodecExtensions
{
    private const int StackHeaderLimit = 256;

    /// <summary>
    /// Decodes the header at the start of a possibly multi-segment buffer. The first segment is decoded in place; a header
    /// split across segments is copied (at most <see cref="IFrameCodec.MaxHeaderLength"/> bytes, to the stack) first.
    /// Nothing is allocated and nothing is consumed.
    /// </summary>
    /// <param name="codec">The codec.</param>
    /// <param name="buffer">The bytes received so far, starting at the first byte of a header.</param>
    /// <param name="headerLength">On success, how many bytes the header occupies.</param>
    /// <param name="payloadLength">On success, the payload length the header declares.</param>
    /// <returns>What <see cref="IFrameCodec.DecodeHeader"/> returns for those bytes: <see cref="OperationStatus.Done"/>,
    /// <see cref="OperationStatus.NeedMoreData"/> or <see cref="OperationStatus.InvalidData"/> (then
    /// <see cref="CreateHeaderException(IFrameCodec, in ReadOnlySequence{byte})"/> says why).</returns>
    public static OperationStatus DecodeHeader(this IFrameCodec codec, in ReadOnlySequence<byte> buffer, out int headerLength, out long payloadLength)
    {
        if (codec is null)
        {
            throw new ArgumentNullException(nameof(codec));
        }

        if (TryGetHeaderSpan(codec, buffer, out ReadOnlySpan<byte> first))
        {
            return codec.DecodeHeader(first, out headerLength, out payloadLength);
        }

        return DecodeMultiSegment(codec, buffer, out headerLength, out payloadLength);
    }

    private static OperationStatus DecodeMultiSegment(IFrameCodec codec, in ReadOnlySequence<byte> buffer, out int headerLength, out long payloadLength)
    {
        Debug.Assert(!buffer.IsSingleSegment);
        int length = (int)Math.Min(buffer.Length, codec.MaxHeaderLength);
        if (length <= StackHeaderLimit)
        {
            Span<byte> copy = stackalloc byte[StackHeaderLimit];
            copy = copy.Slice(0, length);
            buffer.Slice(0, length).CopyTo(copy);
            return codec.DecodeHeader(copy, out headerLength, out payloadLength);
        }

        byte[] rented = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            Span<byte> copy = rented.AsSpan(0, length);
            buffer.Slice(0, length).CopyTo(copy);
            return codec.DecodeHeader(copy, out headerLength, out payloadLength);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>
    /// The exception for a possibly multi-segment header that
    /// <see cref="DecodeHeader(IFrameCodec, in ReadOnlySequence{byte}, out int, out long)"/> found invalid: the codec's
    /// <see cref="IFrameCodec.CreateHeaderException"/> over at most <see cref="IFrameCodec.MaxHeaderLength"/> bytes (copied
    /// when the header is split). A cold path: it allocates.
    /// </summary>
    /// <param name="codec">The codec.</param>
    /// <param name="buffer">The same bytes the decode returned <see cref="OperationStatus.InvalidData"/> for.</param>
    /// <returns>The exception, not thrown.</returns>
    public static FrameFormatException CreateHeaderException(this IFrameCodec codec, in ReadOnlySequence<byte> buffer)
    {
        if (codec is null)
        {
            throw new ArgumentNullException(nameof(codec));
        }

        if (TryGetHeaderSpan(codec, buffer, out ReadOnlySpan<byte> first))
        {
            return codec.CreateHeaderException(first);
        }

        return codec.CreateHeaderException(buffer.Slice(0, Math.Min(buffer.Length, codec.MaxHeaderLength)).ToArray());
    }

    /// <summary>
    /// Wraps the codec so that every frame ends with <paramref name="trailer"/> after its payload (AMQP 0-9-1:
    /// <c>codec.WithTrailer(0xCE)</c>). See <see cref="Codecs.TrailerCodec"/>: the header and its payload length are the
    /// codec's, unchanged; the drivers check the trailer on read and write it on write.
    /// </summary>
    /// <param name="codec">The codec of the header.</param>
    /// <param name="trailer">The bytes every frame ends with, 1 to <see cref="Codecs.TrailerCodec.MaxTrailerLength"/> (copied).</param>
    /// <returns>The wrapper; also an <see cref="ILengthFieldCodec"/> or <see cref="IHeaderPrefixCodec"/> when the codec is.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="codec"/> or <paramref name="trailer"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">The trailer is empty or too long, or the codec already has one.</exception>
    public static Codecs.TrailerCodec WithTrailer(this IFrameCodec codec, params byte[] trailer)
    {
        if (trailer is null)
        {
            throw new ArgumentNullException(nameof(trailer));
        }

        return Codecs.TrailerCodec.Create(codec, trailer);
    }

    /// <summary>The first segment, when it holds a whole header (or is all there is): then no copy is needed.</summary>
    private static bool TryGetHeaderSpan(IFrameCodec codec, in ReadOnlySequence<byte> buffer, out ReadOnlySpan<byte> first)
    {
#if NET
        first = buffer.FirstSpan;
#else
        first = buffer.First.Span;
#endif
        return first.Length >= codec.MaxHeaderLength || buffer.IsSingleSegment;
    }
}
