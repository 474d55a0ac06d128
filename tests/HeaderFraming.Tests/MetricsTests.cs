using System.Diagnostics.Metrics;
using HeaderFraming.Codecs;
using HeaderFraming.Testing;
using HeaderFraming.Tests.Infrastructure;

namespace HeaderFraming.Tests;

[CollectionDefinition(nameof(MetricsTests), DisableParallelization = true)]
public sealed class MetricsCollection
{
}

/// <summary>Observes the HeaderFraming meter with a MeterListener; runs alone so other tests' frames don't count.</summary>
[Collection(nameof(MetricsTests))]
public sealed class MetricsTests : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly Dictionary<string, long> _totals = new();
    private readonly List<(string Name, long Value, string Tags)> _measurements = new();

    public MetricsTests()
    {
        // On .NET 8, MeterListener.Dispose stops an instrument's measurements only when MeasurementsCompleted is set
        // (dotnet/runtime#102465, fixed in .NET 9): without it every instrument stays Enabled after this class's tests, and
        // MetricsSamplingTests, run after them on the .NET 8 suite, sees frames counted that nothing listens to.
        _listener.MeasurementsCompleted = static (_, _) => { };
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == FramingMeter.Name)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            lock (_totals)
            {
                _totals[instrument.Name] = _totals.GetValueOrDefault(instrument.Name) + value;
                _measurements.Add((instrument.Name, value, string.Join(",", tags.ToArray().Select(t => $"{t.Key}={t.Value}"))));
            }
        });
        _listener.Start();
    }

    [Fact]
    public async Task FramesBytesSizesAndErrorsAreCounted()
    {
        byte[] wire = FrameTestKit.Encode(AsciiDecimalCodec.Default, [new byte[5], new byte[300]]);
        List<byte[]> frames = await FrameTestKit.DecodeAllAsync(new ChunkedPipeReader(SegmentedSequence.Split(wire, [3, 200]), [7, 100]), AsciiDecimalCodec.Default);
        Assert.Equal(2, frames.Count);
        await Assert.ThrowsAsync<FrameFormatException>(() => FrameTestKit.DecodeAllAsync(
            new ChunkedPipeReader(new System.Buffers.ReadOnlySequence<byte>("GET / HTTP/1.1\r\n"u8.ToArray()), []), AsciiDecimalCodec.Default));

        lock (_totals)
        {
            Assert.Equal(2, _totals["headerframing.frames.written"]);
            Assert.Equal(2, _totals["headerframing.frames.read"]);
            Assert.Equal(wire.Length, _totals["headerframing.bytes.read"]);
            Assert.Equal(wire.Length, _totals["headerframing.bytes.written"]);
            Assert.Contains(("headerframing.frame.size", 300L, "headerframing.direction=read"), _measurements);
            Assert.Contains(("headerframing.frame.size", 5L, "headerframing.direction=write"), _measurements);
            Assert.Contains(("headerframing.errors", 1L, "error.type=malformed"), _measurements);
        }
    }

    [Fact]
    public async Task OpenConnectionsAreCounted()
    {
        var (a, _) = DuplexPipe.CreatePair();
        FramedConnection connection = FramedConnection.Create(a, AsciiDecimalCodec.Default);
        lock (_totals)
        {
            Assert.Equal(1, _totals["headerframing.active_connections"]);
        }

        await connection.DisposeAsync();
        await connection.DisposeAsync();
        lock (_totals)
        {
            Assert.Equal(0, _totals["headerframing.active_connections"]);
        }
    }

    public void Dispose() => _listener.Dispose();
}
