using System;
using System.Collections.Generic;
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
