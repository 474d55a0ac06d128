using System;
using System.IO;
using HeaderFraming.Internal;

namespace HeaderFraming;

/// <summary>
/// The base of the errors a <see cref="FrameReader"/> raises when the bytes it receives cannot be framed.
/// The message says what was wrong and where: the stream offset of the frame, the header bytes (hex and text),
/// and, when they look like one, which other protocol the peer seems to speak (HTTP, TLS).
/// </summary>
/// <remarks>
/// A reader that threw a <see cref="FrameException"/> is faulted: every frame before the fault was delivered, and every later
/// read throws the same exception, because the position of the next frame can no longer be known.
/// </remarks>
public abstract class FrameException : IOException
{
    private readonly byte[] _header;
    private long _streamOffset = -1;

    private protected FrameException(string problem, ReadOnlySpan<byte> header, Exception? innerException = null)
        : base(problem, innerException)
    {
        Problem = problem;
        _header = header.ToArray();
    }

    /// <summary>Which kind of error this is.</summary>
    public abstract FrameErrorKind Kind { get; }

    /// <summary>The offset in the stream (bytes since the reader started) of the first byte of the offending frame, or -1 when the error was raised outside a <see cref="FrameReader"/>.</summary>
    public long StreamOffset => _streamOffset;

    /// <summary>The bytes of the offending header as received (at most the codec's <see cref="IFrameCodec.MaxHeaderLength"/> bytes; fewer if the stream ended sooner).</summary>
    public ReadOnlyMemory<byte> Header => _header;

    /// <summary>The bare description of the problem, without the offset and header bytes that <see cref="Exception.Message"/> adds.</summary>
    public string Problem { get; }

    /// <inheritdoc />
    public override string Message => HeaderFormatter.Describe(Problem, _streamOffset, _header);

    /// <summary>The header bytes as received, for subclasses that word their message differently.</summary>
    private protected byte[] HeaderBytes => _header;

    internal void SetStreamOffset(long offset)
    {
        if (_streamOffset < 0)
        {
            _streamOffset = offset;
        }
    }
}
