using System;
using System.Buffers;
using System.Globalization;
using HeaderFraming.Internal;

namespace HeaderFraming.Codecs;

/// <summary>
/// Any codec plus fixed bytes after every payload (<see cref="Trailer"/>): AMQP 0-9-1's frame-end byte <c>0xCE</c> is the
/// preset <see cref="Protocols.Amqp.Codec"/>. Create one with <see cref="Create"/> or
/// <see cref="FrameCodecExtensions.WithTrailer(IFrameCodec, byte[])"/>.
/// </summary>
/// <remarks>
/// <para>Example, AMQP 0-9-1 (<c>new BinaryLengthCodec(4, Endianness.BigEndian, fieldOffset: 3, headerLength: 7).WithTrailer(0xCE)</c>):</para>
/// <code>
/// +-type-+-channel-+---- size: u32 ----+-----------------+-end--+
/// | 0x01 |  00 00  |  \x00\x00\x00\x0C |  12-byte method | 0xCE |
/// +------+---------+-------------------+-----------------+------+
///  0      1         3                   7                 19
/// </code>
/// <para>The header still declares the payload only: <see cref="DecodeHeader"/>, <see cref="WriteHeader"/> and every other
/// member forward to <see cref="Inner"/> unchanged, and the trailer is neither in the header nor in the payload length.
/// The drivers do the rest (<see cref="IFrameTrailerCodec"/>): <see cref="FrameReader"/> checks the trailer after every payload
/// and leaves it out of <see cref="Frame.Payload"/>; <see cref="FrameWriter"/> writes it after every payload.</para>
/// <para>The wrapper declares the inner codec's capabilities too: when the inner codec is an <see cref="ILengthFieldCodec"/>
/// the wrapper is one with the same <see cref="LengthFieldLayout"/> (so the drivers keep decoding it inline), and when the
/// inner codec is an <see cref="IHeaderPrefixCodec"/> the wrapper is one with the same prefix length. Test for them with
/// <c>is</c>, as the drivers do.</para>
/// </remarks>
public class TrailerCodec : IFrameTrailerCodec
{
    /// <summary>The longest trailer accepted.</summary>
    public const int MaxTrailerLength = 256;

    private readonly IFrameCodec _inner;
    private readonly byte[] _trailer;

    private protected TrailerCodec(IFrameCodec inner, byte[] trailer)
    {
        _inner = inner;
        _trailer = trailer;
    }

    /// <summary>The codec that frames the header.</summary>
    public IFrameCodec Inner => _inner;

    /// <inheritdoc />
    public ReadOnlyMemory<byte> Trailer => _trailer;

    /// <inheritdoc />
    public int MaxHeaderLength => _inner.MaxHeaderLength;

    /// <inheritdoc />
    public bool IsFixedWidth => _inner.IsFixedWidth;

    /// <inheritdoc />
    /// <remarks>The inner codec's: the trailer is not counted.</remarks>
    public long MaxPayloadLength => _inner.MaxPayloadLength;

    /// <summary>Wraps <paramref name="inner"/> so that every frame ends with <paramref name="trailer"/>.</summary>
    /// <param name="inner">The codec of the header; not itself an <see cref="IFrameTrailerCodec"/>.</param>
    /// <param name="trailer">The bytes every frame ends with: 1 to <see cref="MaxTrailerLength"/> bytes (copied).</param>
    /// <returns>The wrapper; also an <see cref="ILengthFieldCodec"/> or an <see cref="IHeaderPrefixCodec"/> when
    /// <paramref name="inner"/> is.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="inner"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="trailer"/> is empty or too long, or <paramref name="inner"/>
    /// already has a trailer (pass the whole trailer at once instead).</exception>
    public static TrailerCodec Create(IFrameCodec inner, ReadOnlySpan<byte> trailer)
    {
        if (inner is null)
        {
            throw new ArgumentNullException(nameof(inner));
        }

        if (inner is IFrameTrailerCodec existing)
        {
            ThrowHelper.ThrowArgument(nameof(inner), string.Format(CultureInfo.InvariantCulture,
                "The codec already ends every frame with a {0}-byte trailer; create one wrapper with the whole trailer instead.",
                existing.Trailer.Length));
        }

        if (trailer.IsEmpty || trailer.Length > MaxTrailerLength)
        {
            ThrowHelper.ThrowArgument(nameof(trailer), string.Format(CultureInfo.InvariantCulture,
                "A trailer is 1 to {0} bytes long; this one has {1}.", MaxTrailerLength, trailer.Length));
        }

        byte[] copy = trailer.ToArray();
        return inner switch
        {
            ILengthFieldCodec lengthField when inner is IHeaderPrefixCodec prefix => new LengthFieldAndPrefixTrailerCodec(lengthField, prefix.PrefixLength, copy),
            ILengthFieldCodec lengthField => new LengthFieldTrailerCodec(lengthField, copy),
            IHeaderPrefixCodec prefix => new PrefixTrailerCodec(prefix, copy),
            _ => new TrailerCodec(inner, copy),
        };
    }

    /// <inheritdoc />
    /// <remarks>The inner codec's result, unchanged: the payload length excludes the trailer.</remarks>
    public OperationStatus DecodeHeader(ReadOnlySpan<byte> source, out int headerLength, out long payloadLength)
        => _inner.DecodeHeader(source, out headerLength, out payloadLength);

    /// <inheritdoc />
    public FrameFormatException CreateHeaderException(ReadOnlySpan<byte> source) => _inner.CreateHeaderException(source);

    /// <inheritdoc />
    public int GetHeaderLength(long payloadLength) => _inner.GetHeaderLength(payloadLength);

    /// <inheritdoc />
    public int WriteHeader(long payloadLength, Span<byte> destination) => _inner.WriteHeader(payloadLength, destination);

    /// <summary>Describes the codec, e.g. <c>4-byte big-endian length at offset 3 of a 7-byte header, then the trailer CE</c>.</summary>
    /// <returns>The description.</returns>
    public override string ToString()
        => string.Format(CultureInfo.InvariantCulture, "{0}, then the trailer {1}", _inner, BitConverter.ToString(_trailer).Replace('-', ' '));

    private sealed class LengthFieldTrailerCodec : TrailerCodec, ILengthFieldCodec
    {
        public LengthFieldTrailerCodec(ILengthFieldCodec inner, byte[] trailer)
            : base(inner, trailer) => LengthField = inner.LengthField;

        public LengthFieldLayout LengthField { get; }
    }

    private sealed class PrefixTrailerCodec : TrailerCodec, IHeaderPrefixCodec
    {
        public PrefixTrailerCodec(IHeaderPrefixCodec inner, byte[] trailer)
            : base(inner, trailer) => PrefixLength = inner.PrefixLength;

        public int PrefixLength { get; }
    }

    private sealed class LengthFieldAndPrefixTrailerCodec : TrailerCodec, ILengthFieldCodec, IHeaderPrefixCodec
    {
        public LengthFieldAndPrefixTrailerCodec(ILengthFieldCodec inner, int prefixLength, byte[] trailer)
            : base(inner, trailer)
        {
            LengthField = inner.LengthField;
            PrefixLength = prefixLength;
        }

        public LengthFieldLayout LengthField { get; }

        public int PrefixLength { get; }
    }
}
