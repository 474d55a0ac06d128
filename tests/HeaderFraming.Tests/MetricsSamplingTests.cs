using System.Diagnostics.Metrics;
using System.IO.Pipelines;
using HeaderFraming.Codecs;

namespace HeaderFraming.Tests;

/// <summary>A reader asks whether the meter listens once per buffer it takes from the pipe (see <see cref="FramingMeter"/>).
/// Runs in <see cref="MetricsTests"/>' collection, alone, so no other listener or reader is active.</summary>
[Collection(nameof(MetricsTests))]
public sealed class MetricsSamplingTests
{
    [Fact]
    public async Task AListenerThatStartsMidBufferSeesTheFramesOfTheNextBufferOn()
    {
        var pipe = new Pipe();
        var writer = new FrameWriter(pipe.Writer, BinaryLengthCodec.UInt32BigEndian);
        var reader = new FrameReader(pipe.Reader, BinaryLengthCodec.UInt32BigEndian);
        writer.Write(new byte[10]);
        writer.Write(new byte[20]);
        await writer.FlushAsync();

        FrameReadResult first = await reader.ReadFrameAsync();
        Assert.Equal(10, first.Frame.PayloadLength);

        long frames = 0;
        // MeasurementsCompleted: so that Dispose stops the measurements on .NET 8 too (see MetricsTests' constructor).
        using var listener = new MeterListener { MeasurementsCompleted = static (_, _) => { } };
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == FramingMeter.Name && instrument.Name == "headerframing.frames.read")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref frames, value));
        listener.Start();

        // The second frame lies in the buffer the reader took before anything listened: not counted.
        Assert.True(reader.TryReadFrame(out Frame second));
        Assert.Equal(20, second.PayloadLength);
        Assert.Equal(0, Interlocked.Read(ref frames));

        writer.Write(new byte[30]);
        writer.Write(new byte[40]);
        await writer.FlushAsync();
        writer.Complete();
        Assert.Equal(30, (await reader.ReadFrameAsync()).Frame.PayloadLength);
        Assert.Equal(40, (await reader.ReadFrameAsync()).Frame.PayloadLength);
        Assert.True((await reader.ReadFrameAsync()).IsCompleted);
        Assert.Equal(2, Interlocked.Read(ref frames));
    }
}
