using HeaderFraming;
using HeaderFraming.Codecs;
using HeaderFraming.Serialization;

namespace TimeStream;

/// <summary>The seed tutorial's client on HeaderFraming: prints each message's payload on its own line.</summary>
public static class TimeStreamClient
{
    /// <summary>Connects, prints messages, and returns after <paramref name="count"/> of them (or when the server closes).</summary>
    /// <returns>How many messages were received.</returns>
    public static async Task<int> RunAsync(string host, int port, int? count, TextWriter output, CancellationToken cancellationToken = default)
    {
        await using FramedConnection connection = await FramedConnection.ConnectAsync(host, port, AsciiDecimalCodec.Default, cancellationToken: cancellationToken);
        int received = 0;
        await foreach (string message in connection.ReadAllAsync(Utf8TextSerializer.Instance, cancellationToken))
        {
            output.WriteLine(message);
            received++;
            if (received == count)
            {
                break;
            }
        }

        return received;
    }
}
