using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using HeaderFraming.Codecs;
using HeaderFraming.Testing;
using static HeaderFraming.Tests.Infrastructure.FrameTestKit;

namespace HeaderFraming.Tests;

/// <summary>
/// Slow peers on real loopback sockets, ended by <see cref="FrameReaderOptions"/>' timeouts with a clear error: a header
/// trickled a byte at a time (slowloris), a payload that stops halfway, a peer that never starts a frame.
/// </summary>
public class SlowPeerTests
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task AHeaderTrickledAByteAtATimeIsEndedByTheFrameTimeoutAfterTheEarlierFrames()
    {
        (Socket client, Socket server) = await Loopback.ConnectedPairAsync();
        using (client)
        using (server)
        {
            byte[] first = Encode(AsciiDecimalCodec.Default, new[] { Ascii("whole") });
            await server.SendAsync(first);
            using var stop = new CancellationTokenSource();
            var reader = new FrameReader(PipeReader.Create(new NetworkStream(client)), AsciiDecimalCodec.Default,
                new FrameReaderOptions { FrameTimeout = TimeSpan.FromMilliseconds(250) });
            Assert.Equal("whole"u8.ToArray(), (await reader.ReadFrameAsync().AsTask().WaitAsync(s_timeout)).Frame.Payload.ToArray());

            // Half of "1000000   ", one byte every 40 ms: the header never completes, so only the frame timeout can end the
            // read, however late its timer runs. (That no trickled byte moves the deadline is tested on a fake clock, in
            // ReadTimeoutTests; a real clock cannot time it on a loaded machine.)
            byte[] header = Ascii("1000000   ");
            Task<int> trickle = SlowPeer.TrickleAsync(server, header.AsMemory(0, 5), TimeSpan.FromMilliseconds(40), stop.Token);
            FrameTimeoutException error = await Assert.ThrowsAsync<FrameTimeoutException>(() => reader.ReadFrameAsync().AsTask().WaitAsync(s_timeout));
            await stop.CancelAsync();
            int trickled = await trickle.WaitAsync(s_timeout);

            Assert.False(error.IsIdleTimeout);
            Assert.Equal(first.Length, error.StreamOffset);
            Assert.InRange(error.ReceivedBytes, 1, trickled);
            Assert.Contains("250", error.Message, StringComparison.Ordinal);
            reader.Complete();
        }
    }

    [Fact]
    public async Task APayloadThatStopsHalfwayIsEndedByTheFrameTimeout()
    {
        (Socket client, Socket server) = await Loopback.ConnectedPairAsync();
        using (client)
        using (server)
        {
            byte[] frame = Encode(BinaryLengthCodec.UInt32BigEndian, new[] { new byte[1000] });
            await server.SendAsync(frame.AsMemory(0, 504));

            var reader = new FrameReader(PipeReader.Create(new NetworkStream(client)), BinaryLengthCodec.UInt32BigEndian,
                new FrameReaderOptions { FrameTimeout = TimeSpan.FromMilliseconds(200), IdleTimeout = TimeSpan.FromSeconds(30) });
            FrameTimeoutException error = await Assert.ThrowsAsync<FrameTimeoutException>(() => reader.ReadFrameAsync().AsTask().WaitAsync(s_timeout));

            Assert.False(error.IsIdleTimeout);
            Assert.Equal(0, error.StreamOffset);
            Assert.Equal(504, error.ReceivedBytes);

            // Faulted: the same error again, at once.
            Assert.Same(error, await Assert.ThrowsAsync<FrameTimeoutException>(() => reader.ReadFrameAsync().AsTask().WaitAsync(s_timeout)));
            reader.Complete();
        }
    }

    [Fact]
    public async Task APeerThatNeverStartsAFrameIsEndedByTheIdleTimeout()
    {
        (Socket client, Socket server) = await Loopback.ConnectedPairAsync();
        using (client)
        using (server)
        {
            var reader = new FrameReader(PipeReader.Create(new NetworkStream(client)), VarintCodec.Instance,
                new FrameReaderOptions { IdleTimeout = TimeSpan.FromMilliseconds(150) });
            FrameTimeoutException error = await Assert.ThrowsAsync<FrameTimeoutException>(() => reader.ReadFrameAsync().AsTask().WaitAsync(s_timeout));
            Assert.True(error.IsIdleTimeout);
            Assert.Equal(0, error.ReceivedBytes);
            reader.Complete();
        }
    }
}
