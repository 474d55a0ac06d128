namespace HeaderFraming.AspNetCore;

/// <summary>
/// The name of the <c>System.Diagnostics.Metrics.Meter</c> that HeaderFraming.AspNetCore publishes for the endpoints framed by
/// <see cref="FramingConnectionBuilderExtensions.UseFraming{THandler}(Microsoft.AspNetCore.Server.Kestrel.Core.ListenOptions, IFrameCodec, string?)"/>,
/// created through the host's <c>IMeterFactory</c>. Every instrument is tagged <c>endpoint</c> (the endpoint's name, or its
/// address when it has none). The core's own meter (<see cref="FramingMeter.Name"/>) goes on counting frames and bytes.
/// </summary>
/// <remarks>
/// <list type="table">
/// <listheader><term>instrument</term><description>meaning</description></listheader>
/// <item><term><c>headerframing.server.active_connections</c></term><description>up-down counter of open connections, <c>{connection}</c></description></item>
/// <item><term><c>headerframing.server.connection.duration</c></term><description>histogram of connection lifetimes, <c>s</c>, also tagged <c>headerframing.shutdown_reason</c> (<see cref="ConnectionShutdownReason"/>)</description></item>
/// <item><term><c>headerframing.server.frames.received</c>, <c>headerframing.server.frames.sent</c></term><description>counters of frames, <c>{frame}</c>, added when each connection closes (nothing is recorded per frame)</description></item>
/// <item><term><c>headerframing.server.errors</c></term><description>counter, also tagged <c>error.type</c> = <c>malformed</c> | <c>too_large</c> | <c>truncated</c> | <c>timeout</c> | <c>handler</c></description></item>
/// <item><term><c>headerframing.server.slow_consumers</c></term><description>counter of connections whose peer held a send longer than <see cref="FramingEndpointOptions.SlowConsumerThreshold"/></description></item>
/// </list>
/// </remarks>
public static class FramingServerMeter
{
    /// <summary>The meter's name: <c>HeaderFraming.AspNetCore</c>.</summary>
    public const string Name = "HeaderFraming.AspNetCore";
}
