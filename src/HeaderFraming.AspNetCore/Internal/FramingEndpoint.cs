using System;
using System.Buffers;
using System.Threading;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.Extensions.Logging;

namespace HeaderFraming.AspNetCore.Internal;

/// <summary>One framed endpoint, resolved once when Kestrel builds the endpoint's pipeline (at start-up, so bad options fail
/// the start): its codec, options, logger and metrics. Set as a connection feature for the handler to find.</summary>
internal sealed class FramingEndpoint
{
    private readonly FramedConnectionOptions _options;
    private PooledOptions? _pooled; // one reference, read and written whole: connections of the endpoint race for it

    private readonly Func<string> _nameOnFirstUse;
    private string? _name;

    // name: the endpoint's name, or null to take nameOnFirstUse's at the first connection: a listen address on port 0 is
    // known only once Kestrel has bound it, which it does after building the pipeline.
    public FramingEndpoint(string? name, Func<string> nameOnFirstUse, IFrameCodec codec, FramedConnectionOptions options, FramingEndpointOptions endpointOptions, ILogger logger, FramingServerMetrics metrics, TimeProvider timeProvider)
    {
        _name = name;
        _nameOnFirstUse = nameOnFirstUse;
        Codec = codec;
        _options = options;
        EndpointOptions = endpointOptions;
        Logger = logger;
        Metrics = metrics;
        TimeProvider = timeProvider;
    }

    public string Name => _name ??= _nameOnFirstUse();

    public IFrameCodec Codec { get; }

    public FramingEndpointOptions EndpointOptions { get; }

    public ILogger Logger { get; }

    public FramingServerMetrics Metrics { get; }

    public TimeProvider TimeProvider { get; }

    public FramedConnectionContext CreateContext(ConnectionContext connection)
        => FramedConnectionContext.CreateCore(connection, Codec, OptionsFor(connection), Name, EndpointOptions.SlowConsumerThreshold, TimeProvider, ReportSlowConsumer);

    /// <summary>The endpoint's options with Kestrel's pool: one copy per pool (Kestrel has one per transport), not per connection.</summary>
    private FramedConnectionOptions OptionsFor(ConnectionContext connection)
    {
        if (_options.MemoryPool is not null || !EndpointOptions.UseTransportMemoryPool
            || connection.Features.Get<IMemoryPoolFeature>()?.MemoryPool is not MemoryPool<byte> pool)
        {
            return _options;
        }

        PooledOptions? pooled = Volatile.Read(ref _pooled);
        if (pooled is not null && ReferenceEquals(pooled.Pool, pool))
        {
            return pooled.Options;
        }

        FramedConnectionOptions copy = FramedConnectionOptionsCopy.WithPool(_options, pool);
        Volatile.Write(ref _pooled, new PooledOptions(pool, copy));
        return copy;
    }

    private sealed record PooledOptions(MemoryPool<byte> Pool, FramedConnectionOptions Options);

    private void ReportSlowConsumer(FramedConnectionContext context, TimeSpan waited)
    {
        Metrics.SlowConsumer(Name);
        Log.SlowConsumer(Logger, context.ConnectionId, context.RemoteEndPoint, Name, waited.TotalMilliseconds, EndpointOptions.SlowConsumerThreshold.TotalMilliseconds);
    }
}
