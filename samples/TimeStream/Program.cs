using System.Net;
using System.Net.Sockets;
using System.Text;
using HeaderFraming;
using HeaderFraming.Codecs;
using HeaderFraming.Serialization;
using TimeStream;

// The seed tutorial's streaming demo on HeaderFraming.
//   dotnet run --project samples/TimeStream                                   server + client in one process, 3 time messages
//   dotnet run --project samples/TimeStream -- server [--host H] [--port P] [--interval S]
//   dotnet run --project samples/TimeStream -- client [--host H] [--port P] [--count N]
//   dotnet run --project samples/TimeStream -- burst [--count N]              back-to-back messages: HeaderFraming vs the tutorial's loop
string mode = args.Length > 0 && !args[0].StartsWith("--", StringComparison.Ordinal) ? args[0] : "demo";
string host = Option("--host") ?? "127.0.0.1";
int port = int.Parse(Option("--port") ?? "1243", System.Globalization.CultureInfo.InvariantCulture);
double intervalSeconds = double.Parse(Option("--interval") ?? "3", System.Globalization.CultureInfo.InvariantCulture);
int? count = Option("--count") is string c ? int.Parse(c, System.Globalization.CultureInfo.InvariantCulture) : null;
using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stop.Cancel();
};

try
{
    switch (mode)
    {
        case "server":
        {
            await using var server = TimeStreamServer.Start(IPAddress.Parse(host), port, TimeSpan.FromSeconds(intervalSeconds), Console.Out);
            Console.WriteLine($"Listening on {host}:{server.Port} (10-byte ASCII length header); Ctrl+C stops.");
            await Task.Delay(Timeout.Infinite, stop.Token).ContinueWith(_ => { }, TaskScheduler.Default);
            return 0;
        }

        case "client":
            await TimeStreamClient.RunAsync(host, port, count, Console.Out, stop.Token);
            return 0;

        case "burst":
            return await BurstAsync(count ?? 1000);

        case "demo":
        {
            // Server and client in one process on a free loopback port; the welcome message and three time messages.
            await using var server = TimeStreamServer.Start(IPAddress.Loopback, 0, TimeSpan.FromSeconds(0.5), new PrefixWriter("server> ", Console.Out));
            int received = await TimeStreamClient.RunAsync("127.0.0.1", server.Port, 4, new PrefixWriter("client> ", Console.Out), stop.Token);
            return received == 4 ? 0 : 1;
        }

        default:
            Console.Error.WriteLine($"Unknown mode '{mode}'. Modes: server, client, burst (or none for the demo).");
            return 2;
    }
}
catch (OperationCanceledException) when (stop.IsCancellationRequested)
{
    return 0;
}
catch (SocketException ex)
{
    Console.Error.WriteLine($"Network error: {ex.Message}");
    return 1;
}

string? Option(string name)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}

// Sends N messages back to back (no sleep) over loopback; HeaderFraming splits every one, the tutorial's loop cannot.
static async Task<int> BurstAsync(int n)
{
    using var listener = new TcpListener(IPAddress.Loopback, 0);
    listener.Start();
    int port = ((IPEndPoint)listener.LocalEndpoint).Port;
    Task sender = Task.Run(async () =>
    {
        using Socket socket = await listener.AcceptSocketAsync();
        await using FramedConnection connection = FramedConnection.Create(socket, AsciiDecimalCodec.Default);
        for (int i = 0; i < n; i++)
        {
            await connection.SendAsync($"message {i} {TimeStreamServer.TimeMessage(DateTimeOffset.UtcNow)}", Utf8TextSerializer.Instance);
        }
    });

    int received = 0;
    var wire = new MemoryStream();
    await using (FramedConnection client = await FramedConnection.ConnectAsync("127.0.0.1", port, AsciiDecimalCodec.Default))
    {
        await foreach (Frame frame in client.ReadAllAsync())
        {
            string text = Utf8TextSerializer.Instance.Deserialize(frame.Payload);
            if (text != $"message {received} {text[(text.IndexOf(' ', 8) + 1)..]}")
            {
                Console.Error.WriteLine($"Frame {received} is wrong: {text}");
                return 1;
            }

            wire.Write(Encoding.UTF8.GetBytes($"{Encoding.UTF8.GetByteCount(text),-10}{text}"));
            received++;
        }
    }

    await sender;
    (List<string> tutorial, bool desynced) = TutorialClient.Reassemble(wire.ToArray());
    Console.WriteLine($"HeaderFraming split {received} of {n} back-to-back messages.");
    Console.WriteLine($"The tutorial's 16-byte recv loop recognised {tutorial.Count} before {(desynced ? "losing track of the message boundaries" : "the end")}.");
    return received == n ? 0 : 1;
}
