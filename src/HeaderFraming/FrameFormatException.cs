using System;

namespace HeaderFraming;

/// <summary>A header that does not follow the codec's layout: a non-digit or a sign in an ASCII header, an all-space header,
/// a varint that is too long, a length that overflows or becomes negative after adjustment.</summary>
public sealed class FrameFormatException : FrameException
{
    /// <summary>Creates the exception for a malformed header.</summary>
    /// <param name="problem">What is wrong, in a sentence (e.g. "byte 3 of the header is 'x', expected a digit or a space").</param>
    /// <param name="header">The header bytes as received.</param>
    public FrameFormatException(string problem, ReadOnlySpan<byte> header)
        : base(problem, header)
    {
    }

    /// <inheritdoc />
    public override FrameErrorKind Kind => FrameErrorKind.Malformed;
}
