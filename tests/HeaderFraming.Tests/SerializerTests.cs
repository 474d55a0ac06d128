using System.Buffers;
using System.IO.Pipelines;
using System.Text.Json.Serialization;
using HeaderFraming.Codecs;
using HeaderFraming.Serialization;
using HeaderFraming.Testing;

namespace HeaderFraming.Tests;

public sealed record Order(int Id, string Item, decimal Price);

[JsonSerializable(typeof(Order))]
public sealed partial class TestJsonContext : JsonSerializerContext
{
}

public class SerializerTests
{
    [Theory]
    [InlineData("Welcome to the server!")]
    [InlineData("")]
    [InlineData("héllo wörld ✓ 😀")]
    public async Task TextRoundTripsThroughAConnection(string text)
    {
        var (a, b) = DuplexPipe.CreatePair();
        await using FramedConnection left = FramedConnection.Create(a, AsciiDecimalCodec.Default);
        await using FramedConnection right = FramedConnection.Create(b, AsciiDecimalCodec.Default);
        await left.SendAsync(text, Utf8TextSerializer.Instance);
        FrameReadResult raw = await right.ReadFrameAsync();
        Assert.Equal(System.Text.Encoding.UTF8.GetByteCount(text), raw.Frame.Payload.Length);
        Assert.Equal(text, Utf8TextSerializer.Instance.Deserialize(raw.Frame.Payload));
    }

    [Fact]
    public void TextDecodesAcrossSegmentsWithoutCopyingToAnArrayFirst()
    {
        byte[] utf8 = System.Text.Encoding.UTF8.GetBytes("split ✓ across segments");
        ReadOnlySequence<byte> sequence = SegmentedSequence.OneByteSegments(utf8);
        Assert.Equal("split ✓ across segments", Utf8TextSerializer.Instance.Deserialize(sequence));
    }

    [Theory]
    [InlineData("ascii")]
    [InlineData("varint")]
    public async Task JsonMessagesRoundTripWithSourceGeneratedMetadata(string codecName)
    {
        IFrameCodec codec = codecName == "ascii" ? AsciiDecimalCodec.Default : VarintCodec.Instance;
        var serializer = new JsonFrameSerializer<Order>(TestJsonContext.Default.Order);
        var (a, b) = DuplexPipe.CreatePair();
        await using FramedConnection left = FramedConnection.Create(a, codec);
        await using FramedConnection right = FramedConnection.Create(b, codec);
        var orders = Enumerable.Range(0, 50).Select(i => new Order(i, new string('x', i * 100), i * 1.5m)).ToArray();
        Task sending = Task.Run(async () =>
        {
            foreach (Order order in orders)
            {
                await left.SendAsync(order, serializer);
            }

            await left.CompleteSendingAsync();
        });
        var received = new List<Order>();
        await foreach (Order order in right.ReadAllAsync(serializer).WithCancellation(new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token))
        {
            received.Add(order);
        }

        await sending;

        Assert.Equal(orders, received);
    }

    [Fact]
    public async Task TheSerializerWritesStraightIntoThePipeBehindTheHeader()
    {
        // A serializer that records the memory it was handed: with a fixed-width codec it is the pipe's own memory,
        // right after the reserved header.
        var pipe = new Pipe();
        var writer = new FrameWriter(pipe.Writer, AsciiDecimalCodec.Default);
        IBufferWriter<byte> body = writer.BeginFrame();
        Memory<byte> handedOut = body.GetMemory(5);
        "hello"u8.CopyTo(handedOut.Span);
        body.Advance(5);
        writer.EndFrame();
        await writer.FlushAsync();
        ReadResult read = await pipe.Reader.ReadAsync();
        Assert.True(System.Runtime.InteropServices.MemoryMarshal.TryGetArray(read.Buffer.First, out ArraySegment<byte> inPipe));
        Assert.True(System.Runtime.InteropServices.MemoryMarshal.TryGetArray((ReadOnlyMemory<byte>)handedOut, out ArraySegment<byte> given));
        Assert.Same(inPipe.Array, given.Array);
        Assert.Equal(inPipe.Offset + 10, given.Offset);
        Assert.Equal("5         hello", System.Text.Encoding.ASCII.GetString(read.Buffer.ToArray()));
    }

    [Fact]
    public async Task ASerializerThatThrowsEarlySendsNothing()
    {
        var (a, b) = DuplexPipe.CreatePair();
        await using FramedConnection left = FramedConnection.Create(a, AsciiDecimalCodec.Default);
        await using FramedConnection right = FramedConnection.Create(b, AsciiDecimalCodec.Default);
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await left.SendAsync(0, new ThrowingSerializer()));
        await left.SendAsync("after", Utf8TextSerializer.Instance);
        Assert.Equal("after", await right.ReadAsync(Utf8TextSerializer.Instance));
    }

    private sealed class ThrowingSerializer : IFrameSerializer<int>
    {
        public void Serialize(int value, IBufferWriter<byte> destination)
        {
            destination.Write("partial"u8);
            throw new InvalidOperationException("serializer failed");
        }

        public int Deserialize(in ReadOnlySequence<byte> payload) => throw new NotSupportedException();
    }
}
