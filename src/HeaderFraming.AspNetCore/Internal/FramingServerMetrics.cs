using System;
using System.Collections.Generic;
using System.Diagnostics.Metrics;

namespace HeaderFraming.AspNetCore.Internal;

/// <summary>The <see cref="FramingServerMeter.Name"/> meter, one per service provider (from its <see cref="IMeterFactory"/>).
/// Nothing is recorded per frame: the frame counters are added from the connection's own counters when it closes.</summary>
internal sealed class FramingServerMetrics
{
    private readonly UpDownCounter<long> _activeConnections;
    private readonly Histogram<double> _duration;
    private readonly Counter<long> _framesReceived;
    private readonly Counter<long> _framesSent;
    private readonly Counter<long> _errors;
    private readonly Counter<long> _slowConsumers;

    public FramingServerMetrics(IMeterFactory meterFactory)
    {
        Meter meter = meterFactory.Create(FramingServerMeter.Name, typeof(FramingServerMetrics).Assembly.GetName().Version?.ToString());
        _activeConnections = meter.CreateUpDownCounter<long>("headerframing.server.active_connections", "{connection}", "Framed connections open, by endpoint.");
        _duration = meter.CreateHistogram<double>("headerframing.server.connection.duration", "s", "How long framed connections lasted, by endpoint and shutdown reason.");
        _framesReceived = meter.CreateCounter<long>("headerframing.server.frames.received", "{frame}", "Frames received by framed connections, by endpoint (added when a connection closes).");
        _framesSent = meter.CreateCounter<long>("headerframing.server.frames.sent", "{frame}", "Frames sent by framed connections, by endpoint (added when a connection closes).");
        _errors = meter.CreateCounter<long>("headerframing.server.errors", "{error}", "Connections ended by a framing error or a handler failure, by endpoint and error.type.");
        _slowConsumers = meter.CreateCounter<long>("headerframing.server.slow_consumers", "{connection}", "Connections whose peer held a send longer than the slow-consumer threshold, by endpoint.");
    }

    public void ConnectionOpened(string endpoint) => _activeConnections.Add(1, Endpoint(endpoint));

    public void ConnectionClosed(string endpoint, ConnectionShutdownReason reason, TimeSpan duration, long framesReceived, long framesSent)
    {
        KeyValuePair<string, object?> tag = Endpoint(endpoint);
        _activeConnections.Add(-1, tag);
        if (_duration.Enabled)
        {
            _duration.Record(duration.TotalSeconds, tag, new KeyValuePair<string, object?>("headerframing.shutdown_reason", ReasonName(reason)));
        }

        if (framesReceived > 0)
        {
            _framesReceived.Add(framesReceived, tag);
        }

        if (framesSent > 0)
        {
            _framesSent.Add(framesSent, tag);
        }
    }

    public void Error(string endpoint, string errorType)
        => _errors.Add(1, Endpoint(endpoint), new KeyValuePair<string, object?>("error.type", errorType));

    public void SlowConsumer(string endpoint) => _slowConsumers.Add(1, Endpoint(endpoint));

    public static string ErrorType(FrameErrorKind kind) => kind switch
    {
        FrameErrorKind.TooLarge => "too_large",
        FrameErrorKind.Truncated => "truncated",
        FrameErrorKind.Timeout => "timeout",
        _ => "malformed",
    };

    private static string ReasonName(ConnectionShutdownReason reason) => reason switch
    {
        ConnectionShutdownReason.PeerClosed => "peer_closed",
        ConnectionShutdownReason.PeerClosedMidFrame => "peer_closed_mid_frame",
        ConnectionShutdownReason.Reset => "reset",
        ConnectionShutdownReason.TransportError => "transport_error",
        ConnectionShutdownReason.ProtocolError => "protocol_error",
        ConnectionShutdownReason.Timeout => "timeout",
        ConnectionShutdownReason.LocalClose => "local_close",
        _ => "none",
    };

    private static KeyValuePair<string, object?> Endpoint(string endpoint) => new("endpoint", endpoint);
}
