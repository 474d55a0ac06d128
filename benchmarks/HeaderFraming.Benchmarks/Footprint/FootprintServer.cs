using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using HeaderFraming.Testing;

namespace HeaderFraming.Benchmarks.Footprint;

/// <summary>
/// The measured process of one row (<c>--footprint-server ROW N</c>): it listens on a free 127.0.0.1 port, starts the
/// clients in a child process, accepts N connections and brings each to idle (<see cref="IdleConnections"/>), and measures
/// itself before the first and after the last (<see cref="MemorySnapshot"/>). It prints one <see cref="FootprintResult"/>
/// line on standard output, progress and errors on standard error.
/// </summary>
internal static class FootprintServer
{
    /// <summary>Connections being set up at once: enough to keep 2 cores busy with TLS handshakes, few enough that the
    /// buffers of first reads in flight stay a few blocks of the pool.</summary>
    private const int Workers = 8;

    /// <summary>Connections made in-process, through the same path, before the first measurement, and closed again: the
    /// one-time costs (the socket engine, the buffer pool's first blocks, TLS contexts, JIT-time statics) are then in
    /// both measurements instead of the per-connection figure.</summary>
    private const int WarmUpConnections = 16;

    /// <summary>How long the row may take: a minute plus 10 ms per connection (2 min 40 s for 10,000).</summary>
    public static TimeSpan Limit(int count) => TimeSpan.FromSeconds(60 + (count / 100.0));

    public static async Task<int> RunAsync(FootprintRow row, int count)
    {
        FileLimit.Check(count + WarmUpConnections, "the server");
        using var timeout = new CancellationTokenSource(Limit(count));
        using X509Certificate2? certificate = row.UsesTls ? SelfSignedCertificate.Create() : null;
        SslServerAuthenticationOptions? tls = certificate is null ? null : new SslServerAuthenticationOptions
        {
            ServerCertificateContext = SslStreamCertificateContext.Create(certificate, additionalCertificates: null, offline: true),
        };

        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1024);
        var endPoint = (IPEndPoint)listener.LocalEndPoint!;

        IdleConnections? idle = null;
        ChildProcess? clients = null;
        try
        {
            await WarmUpAsync(row, listener, endPoint, tls, timeout.Token);

            // Closed connections stay reachable for a few hundred milliseconds (their loops' last continuations).
            await Task.Delay(TimeSpan.FromSeconds(1), timeout.Token);

            idle = new IdleConnections(row, count, tls);
            MemorySnapshot before = MemorySnapshot.Take();
            var stopwatch = Stopwatch.StartNew();
            clients = ChildProcess.Start(
                "  clients: ",
                "--footprint-clients",
                endPoint.Port.ToString(CultureInfo.InvariantCulture),
                count.ToString(CultureInfo.InvariantCulture),
                row.ClientVariant);
            Task<string?> ready = clients.ReadLineAsync(timeout.Token);
            Task accepting = AcceptAllAsync(listener, idle, count, timeout.Token);

            // The clients must not die before every connection is up; they exit only when their input closes.
            if (await Task.WhenAny(accepting, clients.Exited) != accepting)
            {
                await Task.WhenAny(accepting, Task.Delay(TimeSpan.FromSeconds(2)));
                if (!accepting.IsCompleted)
                {
                    throw new InvalidOperationException(
                        $"The client process exited (code {clients.ExitCode}) after {idle.Count:N0} of {count:N0} connections were set up.");
                }
            }

            await accepting;
            string? line = await ready;
            if (line != $"READY {count}")
            {
                throw new InvalidOperationException($"The client process said '{line ?? "(nothing)"}' instead of 'READY {count}'.");
            }

            double setUpSeconds = stopwatch.Elapsed.TotalSeconds;
            Console.Error.WriteLine(FormattableString.Invariant($"{count:N0} connections idle after {setUpSeconds:N1} s"));

            // Let the receive loops settle into their zero-byte waits, then measure with every read still pending.
            await Task.Delay(TimeSpan.FromMilliseconds(500), timeout.Token);
            int reissued = idle.CheckIdle();
            MemorySnapshot after = MemorySnapshot.Take();
            if (idle.CheckIdle() != 0)
            {
                throw new InvalidOperationException("A zero-byte receive completed without data twice.");
            }

            if (reissued > 0)
            {
                Console.Error.WriteLine($"{reissued} zero-byte receives had completed without data and were re-issued");
            }

            Console.Out.WriteLine(new FootprintResult(row.Name, count, before, after, setUpSeconds).ToLine());
            Console.Out.Flush();
            await PauseForInspectionAsync();
            return 0;
        }
        catch (Exception ex)
        {
            string what = timeout.IsCancellationRequested
                ? FormattableString.Invariant($"timed out after {Limit(count).TotalSeconds:N0} s with {idle?.Count ?? 0:N0} of {count:N0} connections idle")
                : $"{ex.GetType().Name}: {ex.Message}";
            Console.Error.WriteLine($"footprint server ({row.Name}) failed: {what}");
            return 1;
        }
        finally
        {
            if (clients is not null)
            {
                await clients.StopAsync(TimeSpan.FromSeconds(30));
                clients.Dispose();
            }

            if (idle is not null)
            {
                await WithLimitAsync(idle.DisposeAsync(), TimeSpan.FromSeconds(60), "closing the server ends");
            }
        }
    }

    /// <summary>Accepts <paramref name="count"/> connections with <see cref="Workers"/> workers; the first failure stops
    /// them all.</summary>
    private static async Task AcceptAllAsync(Socket listener, IdleConnections idle, int count, CancellationToken cancellationToken)
    {
        using var failed = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Exception? failure = null;
        int next = -1;
        await Task.WhenAll(Enumerable.Range(0, Workers).Select(async _ =>
        {
            byte[] scratch = new byte[FootprintClients.Frame.Length];
            int i;
            try
            {
                while ((i = Interlocked.Increment(ref next)) < count)
                {
                    Socket accepted = await listener.AcceptAsync(failed.Token);
                    await idle.SetUpAsync(i, accepted, scratch, failed.Token);
                }
            }
            catch (Exception ex)
            {
                Interlocked.CompareExchange(ref failure, ex, null);
                await failed.CancelAsync();
            }
        }));

        if (failure is not null)
        {
            if (failure is OperationCanceledException && cancellationToken.IsCancellationRequested)
            {
                throw failure;
            }

            throw new InvalidOperationException($"Setting up connection {idle.Count + 1:N0} failed: {failure.Message}", failure);
        }
    }

    private static async Task WarmUpAsync(FootprintRow row, Socket listener, IPEndPoint endPoint, SslServerAuthenticationOptions? tls, CancellationToken cancellationToken)
    {
        var warm = new IdleConnections(row, WarmUpConnections, tls);
        var clients = new List<IDisposable>();
        byte[] scratch = new byte[FootprintClients.Frame.Length];
        try
        {
            for (int i = 0; i < WarmUpConnections; i++)
            {
                Task<IDisposable> client = FootprintClients.ConnectAsync(endPoint, row.UsesTls, cancellationToken);
                Socket accepted = await listener.AcceptAsync(cancellationToken);
                Task setUp = warm.SetUpAsync(i, accepted, scratch, cancellationToken);
                clients.Add(await client);
                await setUp;
            }
        }
        finally
        {
            await warm.DisposeAsync();
            foreach (IDisposable client in clients)
            {
                client.Dispose();
            }
        }
    }

    /// <summary>HEADERFRAMING_FOOTPRINT_PAUSE=SECONDS (at most 600): how long the server stays idle after measuring, so
    /// that its heap can be inspected (<c>dotnet-gcdump collect -p PID</c>, then <c>dotnet-gcdump report</c>).</summary>
    public static int PauseSeconds { get; } =
        int.TryParse(Environment.GetEnvironmentVariable("HEADERFRAMING_FOOTPRINT_PAUSE"), NumberStyles.None, CultureInfo.InvariantCulture, out int seconds)
            ? Math.Min(seconds, 600)
            : 0;

    private static async Task PauseForInspectionAsync()
    {
        if (PauseSeconds > 0)
        {
            Console.Error.WriteLine($"pausing {PauseSeconds} s for inspection: server process {Environment.ProcessId}");
            await Task.Delay(TimeSpan.FromSeconds(PauseSeconds));
        }
    }

    private static async Task WithLimitAsync(Task task, TimeSpan limit, string what)
    {
        if (await Task.WhenAny(task, Task.Delay(limit)) != task)
        {
            Console.Error.WriteLine($"footprint server: {what} took more than {limit.TotalSeconds:N0} s; exiting anyway");
            return;
        }

        await task;
    }
}
