using System.Globalization;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Text;
using HeaderFraming.AspNetCore.Tests.Infrastructure;
using HeaderFraming.Codecs;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace HeaderFraming.AspNetCore.Tests;

/// <summary>
/// What an idle framed connection hosted by Kestrel holds (issue "hosting", item 5, with the method of the "server-grade
/// connections" issue's footprint probe): the managed heap per connection of 1,000 server ends, each accepted by Kestrel,
/// its one seed-format frame read and its next read pending. Memory, not time.
/// </summary>
/// <remarks>
/// <para><b>What is counted</b>: everything Kestrel and the handler hold for the connection (Kestrel's socket connection,
/// its pipes and its connection context; the framed connection, its pipe and its pending read). The clients are in this
/// process, and Kestrel accepts as they connect (the core's test can leave them in the accept queue; Kestrel cannot), so
/// their share is measured on its own — 1,000 clients connected to a listener that never accepts — and taken off.</para>
/// <para><b>The floor</b> is Kestrel's own: a bare <see cref="ConnectionHandler"/> with a pending <c>Transport.Input</c>
/// read. The framing layer's cost is the difference. Connections are brought up one at a time, so Kestrel's pool holds
/// about one block for all of them (its blocks go back to it between reads: idle connections hold none).</para>
/// <para>Each figure is the median of three rounds, after a full collection.</para>
/// </remarks>
public sealed class IdleFootprintTests(ITestOutputHelper output)
{
    private const int Connections = 1000;
    private const int Rounds = 3;

    /// <summary>Generous: the core's bound for a whole FramedConnection over a Socket is 4 KiB; over Kestrel's pipe the
    /// framing layer adds its own pipe and the per-connection context on top of what Kestrel holds anyway.</summary>
    private const double FramingBoundBytes = 8 * 1024;

    private static readonly TimeSpan s_limit = TimeSpan.FromMinutes(3);

    private static readonly byte[] s_frame = Encoding.ASCII.GetBytes("22        Welcome to the server!");

    private enum Kind
    {
        ClientsOnly,
        BareKestrel,
        FramedKestrel,
    }

    [Fact]
    public async Task AnIdleFramedConnectionHostedByKestrelHoldsAFewKiBMoreThanKestrelsOwn()
    {
        using var timeout = new CancellationTokenSource(s_limit);
        await using FramedServer bare = await FramedServer.StartAsync<IdleHandler>(AsciiDecimalCodec.Default, s =>
        {
            s.Services = services => services.AddSingleton<FrameSignal>();
            s.InsteadOfFraming = listen => listen.UseConnectionHandler<BareHandler>();
        });
        await using FramedServer framed = await FramedServer.StartAsync<IdleHandler>(AsciiDecimalCodec.Default, s =>
        {
            s.Services = services => services.AddSingleton<FrameSignal>();
            s.EndpointName = "idle";
        });

        // What is made once per process (socket engine, Kestrel's pool, statics) before the rounds.
        await MeasureAsync(Kind.ClientsOnly, null, 32, timeout.Token);
        await MeasureAsync(Kind.BareKestrel, bare, 32, timeout.Token);
        await MeasureAsync(Kind.FramedKestrel, framed, 32, timeout.Token);

        var figures = new Dictionary<Kind, List<double>> { [Kind.ClientsOnly] = [], [Kind.BareKestrel] = [], [Kind.FramedKestrel] = [] };
        for (int round = 1; round <= Rounds; round++)
        {
            figures[Kind.ClientsOnly].Add(await MeasureAsync(Kind.ClientsOnly, null, Connections, timeout.Token));
            figures[Kind.BareKestrel].Add(await MeasureAsync(Kind.BareKestrel, bare, Connections, timeout.Token));
            figures[Kind.FramedKestrel].Add(await MeasureAsync(Kind.FramedKestrel, framed, Connections, timeout.Token));
            output.WriteLine(FormattableString.Invariant(
                $"round {round}: clients {figures[Kind.ClientsOnly][^1]:N0} B, clients + bare Kestrel {figures[Kind.BareKestrel][^1]:N0} B, clients + framed Kestrel {figures[Kind.FramedKestrel][^1]:N0} B per connection"));
        }

        double clients = Median(figures[Kind.ClientsOnly]);
        double kestrel = Median(figures[Kind.BareKestrel]) - clients;
        double framedServer = Median(figures[Kind.FramedKestrel]) - clients;
        double framing = framedServer - kestrel;
        output.WriteLine(FormattableString.Invariant(
            $"median of {Rounds} rounds of {Connections:N0} idle connections, server side per connection: framed Kestrel connection {framedServer:N0} B ({framedServer / 1024:N2} KiB), ") +
            FormattableString.Invariant($"bare Kestrel connection {kestrel:N0} B, framing layer {framing:N0} B ({framing / 1024:N2} KiB; bound {FramingBoundBytes / 1024:N0} KiB)"));

        Assert.True(kestrel >= 512, $"a bare idle Kestrel connection measured {kestrel:N0} B: the measurement does not see the server ends");
        Assert.True(framing <= FramingBoundBytes, FormattableString.Invariant($"the framing layer holds {framing:N0} B per idle Kestrel connection, over the {FramingBoundBytes:N0} B bound"));
    }

    private static double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);

    /// <summary>Heap per connection, clients included, once <paramref name="count"/> connections are idle.</summary>
    private static async Task<double> MeasureAsync(Kind kind, FramedServer? server, int count, CancellationToken cancellationToken)
    {
        var clients = new Socket?[count];
        Socket? listener = null;
        FrameSignal? signal = server?.Services.GetRequiredService<FrameSignal>();
        try
        {
            EndPoint target;
            if (kind == Kind.ClientsOnly)
            {
                listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
                listener.Listen(count); // never accepted: the kernel's queue holds them
                target = listener.LocalEndPoint!;
            }
            else
            {
                target = new IPEndPoint(IPAddress.Loopback, server!.Port);
            }

            long before = SettledHeap();
            for (int i = 0; i < count; i++)
            {
                var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                clients[i] = client;
                await client.ConnectAsync(target, cancellationToken);
                await client.SendAsync(s_frame, SocketFlags.None, cancellationToken);
                if (signal is not null)
                {
                    await signal.FramesRead.WaitAsync(cancellationToken); // the server read it: its next read is pending
                }
            }

            await Task.Delay(TimeSpan.FromMilliseconds(200), cancellationToken); // let the reads settle into their waits
            long after = SettledHeap();
            return (after - before) / (double)count;
        }
        finally
        {
            foreach (Socket? client in clients)
            {
                client?.Dispose();
            }

            listener?.Dispose();
            if (signal is not null)
            {
                DateTime deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
                while (signal.Open > 0 && DateTime.UtcNow < deadline)
                {
                    await Task.Delay(20, CancellationToken.None);
                }
            }
        }
    }

    private static long SettledHeap()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return GC.GetTotalMemory(forceFullCollection: true);
    }

    public sealed class FrameSignal
    {
        private int _open;

        public SemaphoreSlim FramesRead { get; } = new(0);

        public int Open => Volatile.Read(ref _open);

        public void Opened() => Interlocked.Increment(ref _open);

        public void Closed() => Interlocked.Decrement(ref _open);
    }

    /// <summary>Reads frames and does nothing with them but say so.</summary>
    public sealed class IdleHandler(FrameSignal signal) : FramedConnectionHandler
    {
        protected override ValueTask OnConnectedAsync(FramedConnectionContext context)
        {
            signal.Opened();
            return default;
        }

        protected override ValueTask OnFrameAsync(FramedConnectionContext context, Frame frame)
        {
            signal.FramesRead.Release();
            return default;
        }

        protected override ValueTask OnDisconnectedAsync(FramedConnectionContext context, ConnectionShutdownReason reason, Exception? error)
        {
            signal.Closed();
            return default;
        }
    }

    /// <summary>Kestrel's floor: reads the 32-byte frame off the transport, then waits in a read like any protocol would.</summary>
    public sealed class BareHandler(FrameSignal signal) : ConnectionHandler
    {
        public override async Task OnConnectedAsync(ConnectionContext connection)
        {
            signal.Opened();
            try
            {
                PipeReader input = connection.Transport.Input;
                bool signalled = false;
                while (true)
                {
                    ReadResult result = await input.ReadAsync();
                    if (!signalled && result.Buffer.Length >= s_frame.Length)
                    {
                        signalled = true;
                        input.AdvanceTo(result.Buffer.End);
                        signal.FramesRead.Release();
                    }
                    else
                    {
                        input.AdvanceTo(signalled ? result.Buffer.End : result.Buffer.Start, result.Buffer.End);
                    }

                    if (result.IsCompleted)
                    {
                        break;
                    }
                }
            }
            catch (ConnectionResetException)
            {
            }
            finally
            {
                signal.Closed();
            }
        }
    }
}
