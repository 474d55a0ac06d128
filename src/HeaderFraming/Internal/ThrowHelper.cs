using System;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Runtime.CompilerServices;

namespace HeaderFraming.Internal;

/// <summary>Throws from non-inlined methods so the hot paths that call them stay small.</summary>
internal static class ThrowHelper
{
    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void ThrowMalformed(string problem, ReadOnlySpan<byte> header) => throw new FrameFormatException(problem, header);

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void ThrowTooLarge(long declared, long max, ReadOnlySpan<byte> header) => throw new FrameTooLargeException(declared, max, header);

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void ThrowPayloadTooLong(long payloadLength, long maxPayloadLength, string codec)
        => throw new ArgumentOutOfRangeException(
            "payloadLength",
            payloadLength,
            string.Format(CultureInfo.InvariantCulture,
                "A payload of {0:N0} bytes does not fit the header of {1}, which can describe at most {2:N0} bytes; the length is never truncated.",
                payloadLength, codec, maxPayloadLength));

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void ThrowNegativeLength(long payloadLength)
        => throw new ArgumentOutOfRangeException("payloadLength", payloadLength, "A payload length cannot be negative.");

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void ThrowDestinationTooSmall(int needed, int actual)
        => throw new ArgumentException(
            string.Format(CultureInfo.InvariantCulture, "The destination has {0} bytes; the header needs {1}.", actual, needed), "destination");

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void ThrowInvalidOperation(string message) => throw new InvalidOperationException(message);

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void ThrowArgumentOutOfRange(string paramName, object? actual, string message)
        => throw new ArgumentOutOfRangeException(paramName, actual, message);

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void ThrowArgument(string paramName, string message) => throw new ArgumentException(message, paramName);
}
