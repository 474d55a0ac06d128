using System;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace HeaderFraming.Testing;

/// <summary>A TLS server certificate made in-process: self-signed, ECDSA P-256 (a handshake costs a fraction of an RSA one,
/// so the footprint probe's 10,000 fit in seconds on 2 cores), for localhost, valid for a day.</summary>
public static class SelfSignedCertificate
{
    public static X509Certificate2 Create()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: false, hasPathLengthConstraint: false, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1", "Server Authentication")], critical: false));
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());

        DateTimeOffset now = DateTimeOffset.UtcNow;
        using X509Certificate2 ephemeral = request.CreateSelfSigned(now.AddMinutes(-5), now.AddDays(1));

        // Through PKCS#12 so that the private key is usable by SslStream on every platform. (.NET 8, where the suite also
        // runs, has no X509CertificateLoader; .NET 9 made the constructor obsolete in its favour.)
#if NET9_0_OR_GREATER
        return X509CertificateLoader.LoadPkcs12(ephemeral.Export(X509ContentType.Pfx), password: null);
#else
        return new X509Certificate2(ephemeral.Export(X509ContentType.Pfx));
#endif
    }
}
