using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;

namespace HeaderFraming.Protocols.Tests.Servers;

/// <summary>
/// An in-process Kestrel speaking HTTP/2 with prior knowledge (<see cref="HttpProtocols.Http2"/> on a plain endpoint at
/// 127.0.0.1 and a free port), shared by the tests of a class (<c>IClassFixture</c>): <c>GET /big</c> answers
/// <see cref="BigBody"/>. Kestrel advertises <see cref="MaxFrameSize"/> as its SETTINGS_MAX_FRAME_SIZE, so a client that
/// applies the server's SETTINGS can be told from one that assumes the default 16,384.
/// </summary>
public sealed class KestrelHttp2Server : IAsyncLifetime
{
    /// <summary>The SETTINGS_MAX_FRAME_SIZE Kestrel advertises (Limits.Http2.MaxFrameSize; 16,384 by default).</summary>
    public const int MaxFrameSize = 32_768;

    private WebApplication? _app;

    /// <summary>The body of <c>GET /big</c>: 1 MiB, byte i = i mod 251 (a prime, so no frame boundary lines up with it).</summary>
    public static byte[] BigBody { get; } = Enumerable.Range(0, 1 << 20).Select(i => (byte)(i % 251)).ToArray();

    /// <summary>The port Kestrel listens on.</summary>
    public int Port { get; private set; }

    public async Task InitializeAsync()
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Limits.Http2.MaxFrameSize = MaxFrameSize;
            kestrel.Listen(IPAddress.Loopback, 0, listen => listen.Protocols = HttpProtocols.Http2);
        });
        _app = builder.Build();
        _app.MapGet("/big", () => Results.Bytes(BigBody));
        await _app.StartAsync();
        Port = new Uri(_app.Urls.Single()).Port;
    }

    public async Task DisposeAsync()
    {
        if (_app != null)
        {
            await _app.DisposeAsync();
        }
    }
}
