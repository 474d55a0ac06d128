using System;
using System.Linq;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Threading.Tasks;
using HeaderFraming;
using HeaderFraming.AspNetCore;
using HeaderFraming.Codecs;
using HeaderFraming.Serialization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

// Uses the HeaderFraming.AspNetCore NuGet package the way the README shows: a framed Kestrel endpoint in plain TCP and one
// with TLS, over loopback, with options validated at start-up; exits 1 on any mismatch.
int failures = 0;
using X509Certificate2 certificate = CreateCertificate();
ListenOptions? plain = null;
ListenOptions? secure = null;

WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.ClearProviders();
builder.Services.AddHeaderFraming().AddEndpoint("echo", options => options.Reader.MaxFrameLength = 1024 * 1024);
builder.WebHost.ConfigureKestrel(kestrel =>
{
    kestrel.Listen(IPAddress.Loopback, 0, listen =>
    {
        plain = listen;
        listen.UseFraming<EchoHandler>(AsciiDecimalCodec.Default, "echo");
    });
    kestrel.Listen(IPAddress.Loopback, 0, listen =>
    {
        secure = listen;
        TlsEndpoint(listen, certificate);
    });
});

await using (WebApplication app = builder.Build())
{
    await app.StartAsync();
    int plainPort = ((IPEndPoint)plain!.EndPoint).Port;
    int securePort = ((IPEndPoint)secure!.EndPoint).Port;

    // Many concurrent clients over plain TCP.
    bool[] echoed = await Task.WhenAll(Enumerable.Range(0, 20).Select(async c =>
    {
        await using FramedConnection connection = await FramedConnection.ConnectAsync("127.0.0.1", plainPort, AsciiDecimalCodec.Default);
        for (int i = 0; i < 20; i++)
        {
            await connection.SendAsync($"client {c} message {i}", Utf8TextSerializer.Instance);
            if (await connection.ReadAsync(Utf8TextSerializer.Instance) != $"CLIENT {c} MESSAGE {i}")
            {
                return false;
            }
        }

        return true;
    }));
    Check(echoed.All(ok => ok), "400 echoes over 20 concurrent plain connections");

    // One client over TLS, the certificate pinned.
    using (var tcp = new TcpClient())
    {
        await tcp.ConnectAsync("127.0.0.1", securePort);
        var tls = new SslStream(tcp.GetStream());
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = "localhost",
            RemoteCertificateValidationCallback = (_, presented, _, _) => presented?.GetCertHashString() == certificate.GetCertHashString(),
        });
        await using FramedConnection connection = FramedConnection.Create(tls, AsciiDecimalCodec.Default);
        await connection.SendAsync("over tls", Utf8TextSerializer.Instance);
        Check(await connection.ReadAsync(Utf8TextSerializer.Instance) == "OVER TLS", "an echo over TLS");
    }

    await app.StopAsync();
}

// Bad options fail the start, naming the endpoint.
WebApplicationBuilder invalid = WebApplication.CreateSlimBuilder(args);
invalid.Logging.ClearProviders();
invalid.Services.AddHeaderFraming().AddEndpoint("bad", configureEndpoint: options => options.SlowConsumerThreshold = TimeSpan.FromSeconds(-1));
invalid.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen => listen.UseFraming<EchoHandler>(AsciiDecimalCodec.Default, "bad")));
await using (WebApplication app = invalid.Build())
{
    try
    {
        await app.StartAsync();
        Check(false, "invalid options fail the start");
        await app.StopAsync();
    }
    catch (Microsoft.Extensions.Options.OptionsValidationException ex)
    {
        Check(ex.Message.Contains("HeaderFraming endpoint 'bad'", StringComparison.Ordinal), "invalid options fail the start with the endpoint's name");
    }
}

Console.WriteLine(failures == 0 ? "HeaderFraming.AspNetCore package consumer: all checks passed" : $"HeaderFraming.AspNetCore package consumer: {failures} checks failed");
return failures == 0 ? 0 : 1;

void Check(bool ok, string what)
{
    Console.WriteLine((ok ? "ok   " : "FAIL ") + what);
    if (!ok)
    {
        failures++;
    }
}

static void TlsEndpoint(ListenOptions listen, X509Certificate2 certificate)
{
    // TLS on a framed endpoint: UseHttps first, then UseFraming.
    listen.UseHttps(certificate);
    listen.UseFraming<EchoHandler>(AsciiDecimalCodec.Default, "echo-tls");
}

static X509Certificate2 CreateCertificate()
{
    using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
    var names = new SubjectAlternativeNameBuilder();
    names.AddDnsName("localhost");
    request.CertificateExtensions.Add(names.Build());
    using X509Certificate2 ephemeral = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
    return X509CertificateLoader.LoadPkcs12(ephemeral.Export(X509ContentType.Pfx), password: null);
}

/// <summary>Answers every text message with the same text, upper-cased.</summary>
sealed class EchoHandler() : FramedConnectionHandler<string>(Utf8TextSerializer.Instance)
{
    protected override ValueTask OnMessageAsync(FramedConnectionContext context, string message)
        => context.SendAsync(message.ToUpperInvariant(), Serializer);
}
