using System.Net;
using HeaderFraming.AspNetCore;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace HeaderFraming.AspNetCore.Tests.Infrastructure;

/// <summary>A real in-process Kestrel with one framed endpoint on a loopback port, its logs collected (every level).</summary>
public sealed class FramedServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ListenOptions _listen;

    private FramedServer(WebApplication app, ListenOptions listen)
    {
        _app = app;
        _listen = listen;
    }

    /// <summary>A content root without an appsettings.json: the test output holds the samples' (they flow in with their
    /// project references), whose log levels and endpoints are not the tests'.</summary>
    private static readonly string s_emptyContentRoot = Directory.CreateTempSubdirectory("hf-aspnet-tests-").FullName;

    public IServiceProvider Services => _app.Services;

    public FakeLogCollector Logs => _app.Services.GetFakeLogCollector();

    /// <summary>The bound port (Kestrel writes the port it bound back into the endpoint's options).</summary>
    public int Port => ((IPEndPoint)_listen.EndPoint).Port;

    public sealed class Settings
    {
        public string? EndpointName { get; set; } = "test";

        /// <summary>0: a port the system picks, which is free by construction (no race with another test's FreePort).</summary>
        public int Port { get; set; }

        public Action<IServiceCollection>? Services { get; set; }

        public Action<ListenOptions>? BeforeFraming { get; set; }

        /// <summary>Replaces <c>UseFraming</c> (e.g. Kestrel's own <c>UseConnectionHandler</c> for a baseline).</summary>
        public Action<ListenOptions>? InsteadOfFraming { get; set; }

        public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(10);

        public bool AddHeaderFraming { get; set; } = true;

        public Dictionary<string, string?> Configuration { get; } = new();
    }

    public static async Task<FramedServer> StartAsync<THandler>(IFrameCodec codec, Action<Settings>? configure = null)
        where THandler : FramedConnectionHandler
    {
        var settings = new Settings();
        configure?.Invoke(settings);
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = s_emptyContentRoot });
        builder.Configuration.AddInMemoryCollection(settings.Configuration);
        builder.Logging.ClearProviders().AddFakeLogging(o => o.CollectRecordsForDisabledLogLevels = false).SetMinimumLevel(LogLevel.Debug);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = settings.ShutdownTimeout);
        if (settings.AddHeaderFraming)
        {
            builder.Services.AddHeaderFraming(builder.Configuration.GetSection("HeaderFraming"));
        }

        settings.Services?.Invoke(builder.Services);
        ListenOptions? listen = null;
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, settings.Port, options =>
        {
            listen = options;
            settings.BeforeFraming?.Invoke(options);
            if (settings.InsteadOfFraming is not null)
            {
                settings.InsteadOfFraming(options);
            }
            else
            {
                options.UseFraming<THandler>(codec, settings.EndpointName);
            }
        }));

        WebApplication app = builder.Build();
        try
        {
            await app.StartAsync();
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }

        return new FramedServer(app, listen!);
    }

    /// <summary>Builds and starts a server that is expected to fail at start: returns what it threw.</summary>
    public static async Task<Exception> StartFailsAsync<THandler>(IFrameCodec codec, Action<Settings>? configure = null)
        where THandler : FramedConnectionHandler
    {
        try
        {
            FramedServer server = await StartAsync<THandler>(codec, configure);
            await server.DisposeAsync();
        }
        catch (Exception ex)
        {
            return ex;
        }

        throw new Xunit.Sdk.XunitException("The server started, but it should have failed to.");
    }

    public Task StopAsync(CancellationToken cancellationToken = default) => _app.StopAsync(cancellationToken);

    /// <summary>Waits until a log record matches (the records are written by the connections' tasks).</summary>
    public async Task<FakeLogRecord> WaitForLogAsync(Func<FakeLogRecord, bool> match, TimeSpan? timeout = null)
    {
        DateTime deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            FakeLogRecord? record = Logs.GetSnapshot().FirstOrDefault(match);
            if (record is not null)
            {
                return record;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("No log record matched. Records:\n" + string.Join("\n", Logs.GetSnapshot().Select(r => r.ToString())));
            }

            await Task.Delay(20);
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _app.StopAsync();
        }
        finally
        {
            await _app.DisposeAsync();
        }
    }
}
