using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using HeaderFraming.AspNetCore.Tests.Infrastructure;
using HeaderFraming.Codecs;
using HeaderFraming.Serialization;
using HeaderFraming.Testing;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace HeaderFraming.AspNetCore.Tests;

/// <summary>TLS on the framed endpoint itself (<c>UseHttps</c> before <c>UseFraming</c>), against a real SslStream client.</summary>
public sealed class TlsTests
{
    private static readonly TimeSpan s_limit = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task ATlsEndpointFramesThroughAnSslStreamClient()
    {
        using X509Certificate2 certificate = SelfSignedCertificate.Create();
        await using FramedServer server = await FramedServer.StartAsync<UpperCaseHandler>(AsciiDecimalCodec.Default, s =>
        {
            s.Services = HostingTests.AddRecorder;
            s.BeforeFraming = listen => listen.UseHttps(certificate);
        });
        var recorder = server.Services.GetRequiredService<ConnectionRecorder>();

        using var tcp = new TcpClient();
        await tcp.ConnectAsync("127.0.0.1", server.Port);
        var tls = new SslStream(tcp.GetStream(), leaveInnerStreamOpen: false);
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = "localhost",
            // The test's own certificate, and only it.
            RemoteCertificateValidationCallback = (_, presented, _, _) => presented is not null && presented.GetCertHashString() == certificate.GetCertHashString(),
        }).WaitAsync(s_limit);

        await using (FramedConnection client = FramedConnection.Create(tls, AsciiDecimalCodec.Default))
        {
            foreach (string question in new[] { "hello over tls", "", new string('t', 200_000) })
            {
                await client.SendAsync(question, Utf8TextSerializer.Instance);
                Assert.Equal(question.ToUpperInvariant(), await client.ReadAsync(Utf8TextSerializer.Instance).AsTask().WaitAsync(s_limit));
            }
        }

        SslProtocols negotiated = Assert.Single(recorder.Tls);
        Assert.True(negotiated is SslProtocols.Tls12 or SslProtocols.Tls13, $"negotiated {negotiated}");
        var disconnect = await recorder.WaitForDisconnectAsync(_ => true);
        Assert.Null(disconnect.Error);
        Assert.Equal(ConnectionShutdownReason.PeerClosed, disconnect.Reason);
    }
}
