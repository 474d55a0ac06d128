using System.Buffers;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;

namespace HeaderFraming.AspNetCore.Internal;

/// <summary>Options with Kestrel's memory pool: a copy, since one options instance serves every connection of an
/// endpoint and is never changed here.</summary>
internal static class FramedConnectionOptionsCopy
{
    public static FramedConnectionOptions WithTransportPool(FramedConnectionOptions options, ConnectionContext connection)
    {
        MemoryPool<byte>? pool = options.MemoryPool is null ? connection.Features.Get<IMemoryPoolFeature>()?.MemoryPool : null;
        return pool is null ? options : WithPool(options, pool);
    }

    public static FramedConnectionOptions WithPool(FramedConnectionOptions options, MemoryPool<byte> pool)
    {
        var copy = new FramedConnectionOptions
        {
            SegmentSize = options.SegmentSize,
            MaxBufferedSendBytes = options.MaxBufferedSendBytes,
            MaxBufferedReceiveBytes = options.MaxBufferedReceiveBytes,
            WaitForDataBeforeAllocatingBuffer = options.WaitForDataBeforeAllocatingBuffer,
            MemoryPool = pool,
        };
        copy.Reader.MaxFrameLength = options.Reader.MaxFrameLength;
        copy.Reader.IdleTimeout = options.Reader.IdleTimeout;
        copy.Reader.FrameTimeout = options.Reader.FrameTimeout;
        copy.Reader.MinFrameDataRate = options.Reader.MinFrameDataRate;
        copy.Reader.MinFrameDataRateGracePeriod = options.Reader.MinFrameDataRateGracePeriod;
        copy.Reader.TimeProvider = options.Reader.TimeProvider;
        return copy;
    }
}
