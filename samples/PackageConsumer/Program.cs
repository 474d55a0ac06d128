using System;
using System.Buffers;
using System.Collections.Generic;
using System.Diagnostics.Metrics;
using System.IO;
using System.IO.Pipelines;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Serialization;
using System.Threading;
using System.Threading.Tasks;
using HeaderFraming;
using HeaderFraming.Codecs;
using HeaderFraming.Serialization;

// Uses the HeaderFraming NuGet package the way the README shows, over loopback, and exits 1 on any mismatch.
int failures = 0;

await QuickStartAsync();
await CustomLengthFieldCodecAsync();
await SwitchFramingCheckAsync();

using var listener = new TcpListener(IPAddress.Loopback, 0);
listener.Start();
int port = ((IPEndPoint)listener.LocalEndpoint).Port;
using var stop = new CancellationTokenSource();
Task server = ServeAsync(listener, stop.Token);

foreach (string question in new[] { "hello", "", "héllo wörld ✓", new string('x', 100_000) })
{
    string answer = await AskAsync(port, question);
    Check(answer == question.ToUpperInvariant(), $"echo of a {question.Length}-char message");
}

// Many concurrent clients, each with many messages.
string[][] answers = await Task.WhenAll(Enumerable.Range(0, 20).Select(async c =>
{
    await using FramedConnection connection = await FramedConnection.ConnectAsync("127.0.0.1", port, AsciiDecimalCodec.Default);
    var replies = new List<string>();
    for (int i = 0; i < 50; i++)
    {
        await connection.SendAsync($"client {c} message {i}", Utf8TextSerializer.Instance);
        replies.Add(await connection.ReadAsync(Utf8TextSerializer.Instance));
    }

    return replies.ToArray();
}));
Check(answers.SelectMany((r, c) => r.Select((a, i) => a == $"CLIENT {c} MESSAGE {i}")).All(ok => ok), "1,000 concurrent echoes");

await JsonAsync();
await FastLoopAsync();
Check(await TimeServerLearnsTheClientLeftAsync() == ConnectionShutdownReason.PeerClosed, "a send-only server learns from Closed that its client left");
await MetricsSnippetAsync();

stop.Cancel();
listener.Stop();
try
{
    await server;
}
catch (OperationCanceledException)
{
}

Console.WriteLine(failures == 0 ? "PackageConsumer: every check passed." : $"PackageConsumer: {failures} check(s) failed.");
return failures == 0 ? 0 : 1;

void Check(bool ok, string what)
{
    Console.WriteLine($"{(ok ? "ok  " : "FAIL")} {what}");
    if (!ok)
    {
        failures++;
    }
}

// A send-only server (the tutorial's time server): Closed tells it that its client left.
static async Task<ConnectionShutdownReason> ServeTimeAsync(FramedConnection client, TimeSpan every)
{
    await client.SendAsync("Welcome to the server!"u8.ToArray());
    try
    {
        while (!client.Closed.IsCancellationRequested)
        {
            await client.SendAsync(Encoding.UTF8.GetBytes($"The time is {DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0}"));
            await Task.Delay(every, client.Closed);
        }
    }
    catch (Exception ex) when (ex is OperationCanceledException or IOException)
    {
        // Closed fired during the delay, or a send found the client gone.
    }

    return client.ShutdownReason; // PeerClosed when the client closed its side
}

static async Task<ConnectionShutdownReason> TimeServerLearnsTheClientLeftAsync()
{
    using var timeListener = new TcpListener(IPAddress.Loopback, 0);
    timeListener.Start();
    Task<FramedConnection> client = FramedConnection.ConnectAsync("127.0.0.1", ((IPEndPoint)timeListener.LocalEndpoint).Port, AsciiDecimalCodec.Default);
    await using FramedConnection server = FramedConnection.Create(await timeListener.AcceptSocketAsync(), AsciiDecimalCodec.Default);
    Task<ConnectionShutdownReason> serving = ServeTimeAsync(server, TimeSpan.FromMilliseconds(50));
    await using (FramedConnection reader = await client)
    {
        await reader.ReadFrameAsync(); // the welcome
        await reader.ReadFrameAsync(); // one time message, then the client leaves
    }

    return await serving.WaitAsync(TimeSpan.FromSeconds(30));
}

static async Task QuickStartAsync()
{
    var pipe = new Pipe();

    // Write two frames, flush once.
    var writer = new FrameWriter(pipe.Writer, AsciiDecimalCodec.Default);
    writer.Write("Welcome to the server!"u8);
    writer.Write("The time is 1552068299.01783"u8);
    await writer.FlushAsync();
    writer.Complete();

    // Read them back: each payload is a slice of the pipe's own memory, valid until the next read.
    var reader = new FrameReader(pipe.Reader, AsciiDecimalCodec.Default);
    while (true)
    {
        FrameReadResult result = await reader.ReadFrameAsync();
        if (result.IsCompleted) break;                       // the stream ended between two frames
        Console.WriteLine(Encoding.UTF8.GetString(result.Frame.Payload));
    }
}

// Server: answers every message with the same text, upper-cased.
static async Task ServeAsync(TcpListener listener, CancellationToken cancellationToken)
{
    while (!cancellationToken.IsCancellationRequested)
    {
        Socket socket = await listener.AcceptSocketAsync(cancellationToken);
        _ = Task.Run(async () =>
        {
            await using FramedConnection connection = FramedConnection.Create(socket, AsciiDecimalCodec.Default);
            await foreach (string message in connection.ReadAllAsync(Utf8TextSerializer.Instance))
            {
                await connection.SendAsync(message.ToUpperInvariant(), Utf8TextSerializer.Instance);
            }
        });
    }
}

// Client: one question, one answer.
static async Task<string> AskAsync(int port, string question)
{
    await using FramedConnection connection = await FramedConnection.ConnectAsync("127.0.0.1", port, AsciiDecimalCodec.Default);
    await connection.SendAsync(question, Utf8TextSerializer.Instance);
    return await connection.ReadAsync(Utf8TextSerializer.Instance);
}

async Task JsonAsync()
{
    var pipe = new Pipe();
    var connectionPipe = new DuplexPipe(pipe.Reader, pipe.Writer);
    await using FramedConnection connection = FramedConnection.Create(connectionPipe, BinaryLengthCodec.UInt32BigEndian);
    var order = new Order(42, "widget", 9.99m);

    var serializer = new JsonFrameSerializer<Order>(AppJsonContext.Default.Order);
    await connection.SendAsync(order, serializer);          // serialized straight into the pipe, header back-patched
    Order received = await connection.ReadAsync(serializer); // deserialized from the pipe's memory, no copy

    Check(received == order, "JSON message through a loopback pipe");
}

async Task FastLoopAsync()
{
    var pipe = new Pipe();
    Task<long> reading = SumPayloadBytesAsync(new FrameReader(pipe.Reader, BinaryLengthCodec.UInt32BigEndian));
    var writer = new FrameWriter(pipe.Writer, BinaryLengthCodec.UInt32BigEndian);
    for (int i = 0; i < 10_000; i++)
    {
        writer.Write(new byte[i % 100]);
        if (i % 100 == 99)
        {
            await writer.FlushAsync();                                // many frames per flush; waits if the reader lags
        }
    }

    await writer.FlushAsync();
    writer.Complete();
    long total = await reading.WaitAsync(TimeSpan.FromSeconds(30));
    Check(total == Enumerable.Range(0, 10_000).Sum(i => (long)(i % 100)), "10,000 frames through the span loop");
}

// A user's ILengthFieldCodec: the writer and the reader take its layout inline; the bytes on the wire follow it.
async Task CustomLengthFieldCodecAsync()
{
    var codec = new TypeAndLengthCodec();
    var pipe = new Pipe();
    var writer = new FrameWriter(pipe.Writer, codec);
    writer.Write([(byte)'T', 0, 0, 0], "custom"u8); // the type byte is the caller's: a write without it is refused
    await writer.FlushAsync();
    writer.Complete();
    ReadResult raw = await pipe.Reader.ReadAsync();
    byte[] wire = raw.Buffer.ToArray();
    pipe.Reader.AdvanceTo(raw.Buffer.Start);
    FrameReadResult result = await new FrameReader(pipe.Reader, codec).ReadFrameAsync();
    Check(wire.Length == 10 && wire[0] == (byte)'T' && wire[1] == 6 && wire[2] == 0 && wire[3] == 0, "a 3-byte little-endian length at offset 1");
    Check(result.HasFrame && result.Frame.IsContiguous && Encoding.ASCII.GetString(result.Frame.PayloadSpan) == "custom", "a frame of a custom ILengthFieldCodec");
}

async Task SwitchFramingCheckAsync()
{
    var toServer = new Pipe();
    var toClient = new Pipe();
    await using FramedConnection client = FramedConnection.Create(new DuplexPipe(toClient.Reader, toServer.Writer), AsciiDecimalCodec.Default);
    await using FramedConnection server = FramedConnection.Create(new DuplexPipe(toServer.Reader, toClient.Writer), AsciiDecimalCodec.Default);
    string seen = await SwitchFramingAsync(client, server);
    Check(seen == "HELLO/1 user=alice Q SELECT 1", "a raw preface, a frame of another codec, then typed frames: " + seen);
}

// Switching framing on one connection: a raw preface, a startup message framed differently, then typed frames.
static async Task<string> SwitchFramingAsync(FramedConnection client, FramedConnection server)
{
    IFrameCodec lengthOnly = BinaryLengthCodec.UInt32BigEndian;                              // the startup message
    IFrameCodec typed = new BinaryLengthCodec(4, Endianness.BigEndian, fieldOffset: 1, headerLength: 5); // type, length
    client.SendCodec = typed;                                                                // every later send
    server.ReceiveCodec = typed;                                                             // every later read

    await client.SendRawAsync("HELLO/1\n"u8.ToArray());                                     // raw bytes, in call order
    await client.SendAsync(lengthOnly, default, "user=alice"u8.ToArray());                  // one frame, another codec
    await client.SendAsync(new byte[] { (byte)'Q', 0, 0, 0, 0 }, "SELECT 1"u8.ToArray());   // the type byte is ours

    ReadOnlySequence<byte> preface = await server.ReadUntilAsync("\n"u8.ToArray(), maxLength: 64);
    string hello = Encoding.ASCII.GetString(preface.ToArray()).TrimEnd('\n');                // valid until the next read
    FrameReadResult startup = await server.ReadFrameAsync(lengthOnly);                       // one read, another codec
    string user = Encoding.ASCII.GetString(startup.Frame.Payload.ToArray());
    FrameReadResult query = await server.ReadFrameAsync();                                   // the typed codec again
    char type = (char)query.Frame.HeaderSpan[0];
    return $"{hello} {user} {type} {Encoding.ASCII.GetString(query.Frame.Payload.ToArray())}";
}

// The fastest loop: drain contiguous frames as spans, await only when nothing is left.
static async Task<long> SumPayloadBytesAsync(FrameReader reader)
{
    long total = 0;
    while (true)
    {
        while (reader.TryReadFrame(out ReadOnlySpan<byte> header, out ReadOnlySpan<byte> payload))
        {
            total += payload.Length;                               // contiguous frames: spans into the pipe's memory
        }

        FrameReadResult result = await reader.ReadFrameAsync();   // frames split across buffers, and waiting
        if (result.IsCompleted) return total;
        total += result.Frame.Payload.Length;
    }
}

async Task MetricsSnippetAsync()
{
    long framesRead = 0;
    using var listener = new MeterListener();
    listener.InstrumentPublished = (instrument, l) =>
    {
        if (instrument.Meter.Name == FramingMeter.Name) l.EnableMeasurementEvents(instrument);
    };
    listener.SetMeasurementEventCallback<long>((instrument, value, tags, state) =>
    {
        if (instrument.Name == "headerframing.frames.read") Interlocked.Add(ref framesRead, value);
    });
    listener.Start();

    var pipe = new Pipe();
    await new FrameWriter(pipe.Writer, VarintCodec.Instance).WriteAsync("counted"u8.ToArray());
    FrameReadResult counted = await new FrameReader(pipe.Reader, VarintCodec.Instance).ReadFrameAsync();
    Check(counted.HasFrame, "a frame to count");
    Check(Interlocked.Read(ref framesRead) == 1, "the headerframing.frames.read counter");
}

// A codec of your own that takes the inline path: a 1-byte type, then a 3-byte little-endian length (MySQL-like).
sealed class TypeAndLengthCodec : ILengthFieldCodec
{
    public LengthFieldLayout LengthField { get; } = new LengthFieldLayout(3, Endianness.LittleEndian, fieldOffset: 1, headerLength: 4, adjustment: 0);
    private readonly BinaryLengthCodec _inner = new BinaryLengthCodec(3, Endianness.LittleEndian, fieldOffset: 1, headerLength: 4);
    public int MaxHeaderLength => 4;
    public bool IsFixedWidth => true;
    public long MaxPayloadLength => _inner.MaxPayloadLength;
    public OperationStatus DecodeHeader(ReadOnlySpan<byte> source, out int headerLength, out long payloadLength)
        => _inner.DecodeHeader(source, out headerLength, out payloadLength);
    public FrameFormatException CreateHeaderException(ReadOnlySpan<byte> source) => _inner.CreateHeaderException(source);
    public int GetHeaderLength(long payloadLength) => 4;
    public int WriteHeader(long payloadLength, Span<byte> destination) => _inner.WriteHeader(payloadLength, destination);
}

public sealed record Order(int Id, string Item, decimal Price);

[JsonSerializable(typeof(Order))]
public sealed partial class AppJsonContext : JsonSerializerContext
{
}

internal sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
{
    public PipeReader Input { get; } = input;

    public PipeWriter Output { get; } = output;
}

