using System;
using System.Threading;

namespace HeaderFraming.AspNetCore;

/// <summary>
/// What a framed Kestrel endpoint adds to its connections' <see cref="FramedConnectionOptions"/>: named per endpoint like
/// them (<c>IOptions&lt;FramingEndpointOptions&gt;</c>, the name given to <c>UseFraming</c>), and bound from the same
/// configuration section by <see cref="HeaderFramingServiceCollectionExtensions.AddHeaderFraming(Microsoft.Extensions.DependencyInjection.IServiceCollection, Microsoft.Extensions.Configuration.IConfiguration)"/>.
/// </summary>
public sealed class FramingEndpointOptions
{
    /// <summary>The default <see cref="SlowConsumerThreshold"/>: 5 seconds.</summary>
    public static readonly TimeSpan DefaultSlowConsumerThreshold = TimeSpan.FromSeconds(5);

    /// <summary>
    /// A slow consumer is a peer that does not read what the server sends: a send through
    /// <see cref="FramedConnectionContext.SendAsync(ReadOnlyMemory{byte}, CancellationToken)"/> (or its typed overload) that
    /// backpressure holds for longer than this (Kestrel's output pipe is full because the peer's receive window is) logs a
    /// warning, once per connection, and counts in <c>headerframing.server.slow_consumers</c>. The send itself goes on
    /// waiting: the application decides whether to drop the peer (<see cref="FramedConnectionContext.Abort(string?)"/>).
    /// Default 5 seconds; <see cref="Timeout.InfiniteTimeSpan"/> turns the detection off.
    /// </summary>
    public TimeSpan SlowConsumerThreshold { get; set; } = DefaultSlowConsumerThreshold;

    /// <summary>
    /// Take the receive and send buffers from Kestrel's memory pool (the transport's <c>IMemoryPoolFeature</c>) when
    /// <see cref="FramedConnectionOptions.MemoryPool"/> is not set (default <see langword="true"/>), so that the framing
    /// layer and the transport share one pool.
    /// </summary>
    public bool UseTransportMemoryPool { get; set; } = true;
}
