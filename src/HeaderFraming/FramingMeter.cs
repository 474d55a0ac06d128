namespace HeaderFraming;

/// <summary>
/// The name of the <c>System.Diagnostics.Metrics.Meter</c> HeaderFraming publishes, on every target (netstandard2.0 through
/// the System.Diagnostics.DiagnosticSource package). Nothing is recorded unless something listens (<c>dotnet-counters</c>, OpenTelemetry's
/// <c>AddMeter(FramingMeter.Name)</c>, a <c>MeterListener</c>).
/// </summary>
/// <remarks>
/// <list type="table">
/// <listheader><term>instrument</term><description>meaning</description></listheader>
/// <item><term><c>headerframing.frames.read</c>, <c>headerframing.frames.written</c></term><description>counters of frames, <c>{frame}</c></description></item>
/// <item><term><c>headerframing.bytes.read</c>, <c>headerframing.bytes.written</c></term><description>counters of frame bytes, headers included, <c>By</c></description></item>
/// <item><term><c>headerframing.frame.size</c></term><description>histogram of payload sizes, <c>By</c>, tagged <c>headerframing.direction</c> = <c>read</c> | <c>write</c></description></item>
/// <item><term><c>headerframing.errors</c></term><description>counter tagged <c>error.type</c> = <c>too_large</c> | <c>malformed</c> | <c>truncated</c> | <c>timeout</c></description></item>
/// <item><term><c>headerframing.active_connections</c></term><description>up-down counter of open <see cref="FramedConnection"/>s</description></item>
/// </list>
/// <para>Whether anything listens is asked once per buffer, not per frame: a <see cref="FrameReader"/> asks when it takes
/// a buffer from the pipe, a <see cref="FrameWriter"/> when it takes memory to fill. A listener that starts meanwhile sees
/// the frames from the next buffer on.</para>
/// </remarks>
public static class FramingMeter
{
    /// <summary>The meter's name: <c>HeaderFraming</c>.</summary>
    public const string Name = "HeaderFraming";
}
