using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;

namespace HeaderFraming.Benchmarks.Footprint;

/// <summary>
/// The client ends of the footprint probe, in a process of their own (<c>--footprint-clients PORT N VARIANT</c>) so that
/// only the server ends are in the measured process: N connections to 127.0.0.1:PORT, each sends one seed-format frame
/// (over TLS for the variant <c>tls</c>, accepting any certificate), then all stay idle until standard input closes.
/// </summary>
internal static class FootprintClients
{
    /// <summary>The one frame each client sends: <c>| "22        " | Welcome to the server! |</c>.</summary>
    public static ReadOnlyMemory<byte> Frame { get; } = Encoding.ASCII.GetBytes("22        Welcome to the server!");

    public static ReadOnlyMemory<byte> Payload { get; } = Frame[10..];

    /// <summary>How many connections are being made at once.</summary>
    private const int ConcurrentConnects = 32;

    /// <summary>The most a client process lives, should its parent never close its input.</summary>
    private static readonly TimeSpan s_maxLifetime = TimeSpan.FromMinutes(10);

    public static async Task<int> RunAsync(int port, int count, string variant)
    {
        bool tls = variant switch
        {
            "tcp" => false,
            "tls" => true,
            _ => throw new ArgumentException($"Unknown client variant '{variant}' (tcp or tls)."),
        };

        FileLimit.Check(count, "the clients");
        var endPoint = new IPEndPoint(IPAddress.Loopback, port);
        var ends = new IDisposable[count];
        using var timeout = new CancellationTokenSource(s_maxLifetime);
        try
        {
            int next = -1;
            await Task.WhenAll(Enumerable.Range(0, ConcurrentConnects).Select(async _ =>
            {
                int i;
                while ((i = Interlocked.Increment(ref next)) < count)
                {
                    ends[i] = await ConnectAsync(endPoint, tls, timeout.Token);
                }
            }));

            Console.Out.WriteLine($"READY {count}");
            Console.Out.Flush();

            // Idle until the server has measured: it closes our input (or dies, which closes it too).
            Task<int> input = Console.OpenStandardInput().ReadAsync(new byte[1], timeout.Token).AsTask();
            await Task.WhenAny(input, Task.Delay(Timeout.Infinite, timeout.Token));
            return 0;
        }
        catch (Exception ex)
        {
            Console.Error.WriteLine($"clients failed: {ex.GetType().Name}: {ex.Message}");
            return 1;
        }
        finally
        {
            foreach (IDisposable? end in ends)
            {
                end?.Dispose();
            }
        }
    }

    /// <summary>Connects one client, makes the TLS handshake if asked, and sends <see cref="Frame"/>.</summary>
    /// <returns>What must stay referenced for the connection to stay open: the socket or the TLS stream over it.</returns>
    public static async Task<IDisposable> ConnectAsync(IPEndPoint endPoint, bool tls, CancellationToken cancellationToken)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(endPoint, cancellationToken);
            if (!tls)
            {
                await socket.SendAsync(Frame, SocketFlags.None, cancellationToken);
                return socket;
            }

            var ssl = new SslStream(new NetworkStream(socket, ownsSocket: true));
            try
            {
                await ssl.AuthenticateAsClientAsync(
                    new SslClientAuthenticationOptions
                    {
                        TargetHost = "localhost",
                        RemoteCertificateValidationCallback = static (_, _, _, _) => true,
                    },
                    cancellationToken);
                await ssl.WriteAsync(Frame, cancellationToken);
                await ssl.FlushAsync(cancellationToken);
                return ssl;
            }
            catch
            {
                ssl.Dispose();
                throw;
            }
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
