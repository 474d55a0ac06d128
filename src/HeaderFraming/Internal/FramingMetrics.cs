using System.Collections.Generic;
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;

namespace HeaderFraming.Internal;

/// <summary>
/// The <c>HeaderFraming</c> meter (System.Diagnostics.Metrics: in the framework on .NET 8+, from the
/// System.Diagnostics.DiagnosticSource package on netstandard2.0). Every instrument is checked for a listener before
/// anything is recorded, so the cost when nobody listens is one static load and branch per frame.
/// </summary>
internal static class FramingMetrics
{
    public const string MeterName = FramingMeter.Name;

    private static readonly Meter s_meter = new Meter(MeterName, typeof(FramingMetrics).Assembly.GetName().Version?.ToString());

    private static readonly Counter<long> s_framesRead = s_meter.CreateCounter<long>(
        "headerframing.frames.read", "{frame}", "Frames read (decoded) by FrameReader.");

    private static readonly Counter<long> s_framesWritten = s_meter.CreateCounter<long>(
        "headerframing.frames.written", "{frame}", "Frames written (encoded) by FrameWriter.");

    private static readonly Counter<long> s_bytesRead = s_meter.CreateCounter<long>(
        "headerframing.bytes.read", "By", "Bytes of whole frames read, headers included.");

    private static readonly Counter<long> s_bytesWritten = s_meter.CreateCounter<long>(
        "headerframing.bytes.written", "By", "Bytes of whole frames written, headers included.");

    private static readonly Histogram<long> s_frameSize = s_meter.CreateHistogram<long>(
        "headerframing.frame.size", "By", "Payload size of each frame, by direction (read or write).");

    private static readonly Counter<long> s_errors = s_meter.CreateCounter<long>(
        "headerframing.errors", "{error}", "Framing errors, by error.type: too_large, malformed, truncated, timeout.");

    private static readonly Counter<long> s_framesSkipped = s_meter.CreateCounter<long>(
        "headerframing.frames.skipped", "{frame}", "Oversized frames discarded instead of faulting the reader (FrameReaderOptions.SkipOversizedFrames).");

    private static readonly UpDownCounter<long> s_activeConnections = s_meter.CreateUpDownCounter<long>(
        "headerframing.active_connections", "{connection}", "FramedConnection instances open.");

    private static readonly KeyValuePair<string, object?> s_read = new("headerframing.direction", "read");
    private static readonly KeyValuePair<string, object?> s_write = new("headerframing.direction", "write");

    public static bool ReadEnabled
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => s_framesRead.Enabled || s_bytesRead.Enabled || s_frameSize.Enabled;
    }

    public static bool WriteEnabled
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => s_framesWritten.Enabled || s_bytesWritten.Enabled || s_frameSize.Enabled;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void FrameRead(long headerLength, long payloadLength)
    {
        s_framesRead.Add(1);
        s_bytesRead.Add(headerLength + payloadLength);
        s_frameSize.Record(payloadLength, s_read);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void FrameWritten(long headerLength, long payloadLength)
    {
        s_framesWritten.Add(1);
        s_bytesWritten.Add(headerLength + payloadLength);
        s_frameSize.Record(payloadLength, s_write);
    }

    public static void Error(string errorType)
    {
        if (s_errors.Enabled)
        {
            s_errors.Add(1, new KeyValuePair<string, object?>("error.type", errorType));
        }
    }

    public static void FrameSkipped()
    {
        if (s_framesSkipped.Enabled)
        {
            s_framesSkipped.Add(1);
        }
    }

    public static void ConnectionOpened() => s_activeConnections.Add(1);

    public static void ConnectionClosed() => s_activeConnections.Add(-1);
}
