using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Text;
using HeaderFraming.Codecs;
using HeaderFraming.Testing;
using static HeaderFraming.Tests.Infrastructure.FrameTestKit;

namespace HeaderFraming.Tests;

/// <summary>
/// Transport faults under a <see cref="FrameReader"/>/<see cref="FrameWriter"/>: a stream that throws from ReadAsync, and real
/// loopback sockets whose peer closes or resets. Earlier frames are delivered, the error surfaces, nothing hangs.
/// </summary>
public class FaultTests
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(10);
    private static readonly byte[][] s_payloads = [Ascii("first"), Ascii("second"), Ascii("third frame")];

    [Theory]
    [InlineData("between frames", 0)]
    [InlineData("mid-header", 3)]
    [InlineData("mid-payload", 13)]
    public async Task AStreamThatThrowsFromReadAsyncDeliversEarlierFramesThenSurfacesItsError(string where, int extra)
    {
        _ = where;
        byte[] wire = Encode(AsciiDecimalCodec.Default, s_payloads);
        int twoFrames = 15 + 16;
        byte[] sent = wire[..(twoFrames + extra)];
        var failure = new IOException("Connection reset by peer");
        var stream = new TrickleStream(sent, bytesPerRead: 4) { ReadException = failure, YieldsOnEveryRead = true };
        var reader = new FrameReader(PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 8, minimumReadSize: 4)), AsciiDecimalCodec.Default);

        Assert.Equal("first", Encoding.ASCII.GetString((await reader.ReadFrameAsync().AsTask().WaitAsync(s_timeout)).Frame.Payload.ToArray()));
        Assert.Equal("second", Encoding.ASCII.GetString((await reader.ReadFrameAsync().AsTask().WaitAsync(s_timeout)).Frame.Payload.ToArray()));
        IOException error = await Assert.ThrowsAsync<IOException>(() => reader.ReadFrameAsync().AsTask().WaitAsync(s_timeout));
        Assert.Same(failure, error);
        Assert.Equal(twoFrames, reader.Position);

        // Reading again fails again instead of hanging or spinning.
        int reads = stream.ReadCount;
        await Assert.ThrowsAsync<IOException>(() => reader.ReadFrameAsync().AsTask().WaitAsync(s_timeout));
        Assert.InRange(stream.ReadCount - reads, 0, 1);
        reader.Complete();
    }

    [Fact]
    public async Task APeerThatClosesBetweenFramesEndsTheStreamCleanly()
    {
        using SocketPair pair = await Loopback.ConnectedPairAsync();
        byte[] wire = Encode(BinaryLengthCodec.UInt32BigEndian, s_payloads);
        await pair.Server.SendAsync(wire);
        pair.Server.Shutdown(SocketShutdown.Send);

        var reader = new FrameReader(PipeReader.Create(new NetworkStream(pair.Client)), BinaryLengthCodec.UInt32BigEndian);
        foreach (byte[] payload in s_payloads)
        {
            FrameReadResult result = await reader.ReadFrameAsync().AsTask().WaitAsync(s_timeout);
            Assert.Equal(payload, result.Frame.Payload.ToArray());
        }

        Assert.True((await reader.ReadFrameAsync().AsTask().WaitAsync(s_timeout)).IsCompleted);
        reader.Complete();
    }

    [Fact]
    public async Task APeerThatClosesMidFrameGivesATruncationErrorAfterTheEarlierFrames()
    {
        using SocketPair pair = await Loopback.ConnectedPairAsync();
        byte[] wire = Encode(BinaryLengthCodec.UInt32BigEndian, s_payloads);
        await pair.Server.SendAsync(wire.AsMemory(0, wire.Length - 4));
        pair.Server.Shutdown(SocketShutdown.Send);

        var reader = new FrameReader(PipeReader.Create(new NetworkStream(pair.Client)), BinaryLengthCodec.UInt32BigEndian);
        await reader.ReadFrameAsync().AsTask().WaitAsync(s_timeout);
        await reader.ReadFrameAsync().AsTask().WaitAsync(s_timeout);
        FrameTruncatedException error = await Assert.ThrowsAsync<FrameTruncatedException>(() => reader.ReadFrameAsync().AsTask().WaitAsync(s_timeout));
        Assert.Equal(4 + 11 - 4, error.ReceivedBytes);
        Assert.Equal(4 + 11, error.ExpectedBytes);
        Assert.Equal(4 + 5 + 4 + 6, error.StreamOffset);
        reader.Complete();
    }

    [Fact]
    public async Task APeerThatResetsMidFrameSurfacesTheResetAfterTheEarlierFrames()
    {
        using SocketPair pair = await Loopback.ConnectedPairAsync();
        byte[] wire = Encode(BinaryLengthCodec.UInt32BigEndian, s_payloads);
        await pair.Server.SendAsync(wire.AsMemory(0, wire.Length - 4));

        var reader = new FrameReader(PipeReader.Create(new NetworkStream(pair.Client)), BinaryLengthCodec.UInt32BigEndian);
        Assert.Equal(s_payloads[0], (await reader.ReadFrameAsync().AsTask().WaitAsync(s_timeout)).Frame.Payload.ToArray());
        Assert.Equal(s_payloads[1], (await reader.ReadFrameAsync().AsTask().WaitAsync(s_timeout)).Frame.Payload.ToArray());

        // Linger 0: close sends RST instead of FIN.
        pair.Server.LingerState = new LingerOption(true, 0);
        pair.Server.Close();

        IOException error = await Assert.ThrowsAsync<IOException>(() => reader.ReadFrameAsync().AsTask().WaitAsync(s_timeout));
        Assert.IsNotType<FrameTruncatedException>(error);
        SocketException socketError = Assert.IsType<SocketException>(error.InnerException);
        Assert.Equal(SocketError.ConnectionReset, socketError.SocketErrorCode);
        Assert.Equal(4 + 5 + 4 + 6, reader.Position);
        reader.Complete();
    }

    [Fact]
    public async Task WritingToAPeerThatResetTheConnectionFailsInsteadOfHanging()
    {
        using SocketPair pair = await Loopback.ConnectedPairAsync();
        pair.Server.LingerState = new LingerOption(true, 0);
        pair.Server.Close();

        var pipeWriter = PipeWriter.Create(new NetworkStream(pair.Client));
        var writer = new FrameWriter(pipeWriter, BinaryLengthCodec.UInt32BigEndian);
        byte[] payload = new byte[64 * 1024];
        Task writes = Task.Run(async () =>
        {
            // The first sends may still be accepted by the kernel; the reset surfaces within a few.
            for (int i = 0; i < 1000; i++)
            {
                await writer.WriteAsync(payload);
            }
        });

        IOException error = await Assert.ThrowsAnyAsync<IOException>(() => writes.WaitAsync(s_timeout));
        SocketException socketError = Assert.IsType<SocketException>(error.InnerException);
        Assert.Contains(socketError.SocketErrorCode, new[] { SocketError.ConnectionReset, SocketError.Shutdown, SocketError.ConnectionAborted });
        await pipeWriter.CompleteAsync(error);
    }
}
