using System;
using System.Globalization;

namespace HeaderFraming;

/// <summary>A header that declares a payload longer than <see cref="FrameReaderOptions.MaxFrameLength"/>.
/// It is raised as soon as the header is parsed, before any of the payload is buffered.</summary>
public sealed class FrameTooLargeException : FrameException
{
    /// <summary>Creates the exception for a frame whose declared payload length exceeds the limit.</summary>
    /// <param name="declaredLength">The payload length the header declares.</param>
    /// <param name="maxFrameLength">The largest payload length allowed.</param>
    /// <param name="header">The header bytes as received.</param>
    public FrameTooLargeException(long declaredLength, long maxFrameLength, ReadOnlySpan<byte> header)
        : base(string.Format(CultureInfo.InvariantCulture,
            "the header declares a payload of {0:N0} bytes, more than the maximum of {1:N0} bytes (FrameReaderOptions.MaxFrameLength)",
            declaredLength, maxFrameLength), header)
    {
        DeclaredLength = declaredLength;
        MaxFrameLength = maxFrameLength;
    }

    /// <summary>For a limit other than <see cref="FrameReaderOptions.MaxFrameLength"/> (a message reassembled from packets):
    /// the problem names the limit.</summary>
    internal FrameTooLargeException(string problem, long declaredLength, long maxFrameLength, ReadOnlySpan<byte> header)
        : base(problem, header)
    {
        DeclaredLength = declaredLength;
        MaxFrameLength = maxFrameLength;
    }

    /// <inheritdoc />
    public override FrameErrorKind Kind => FrameErrorKind.TooLarge;

    /// <summary>The payload length the header declares.</summary>
    public long DeclaredLength { get; }

    /// <summary>The largest payload length the reader accepts.</summary>
    public long MaxFrameLength { get; }
}
