using System;
using System.Globalization;
using System.Text;

namespace HeaderFraming.Internal;

/// <summary>Builds the human-readable part of framing errors: the offset, the header bytes escaped, and a protocol hint.</summary>
internal static class HeaderFormatter
{
    public static string Describe(string problem, long streamOffset, byte[] header, string title = "Invalid frame")
    {
        var sb = new StringBuilder(problem.Length + 64 + header.Length * 4);
        sb.Append(title);
        if (streamOffset >= 0)
        {
            sb.Append(" at stream offset ").Append(streamOffset.ToString(CultureInfo.InvariantCulture));
        }

        sb.Append(": ").Append(problem).Append('.');
        if (header.Length > 0)
        {
            sb.Append(" Header bytes: [").Append(ToHex(header)).Append("] \"").Append(Escape(header)).Append("\".");
        }

        string? hint = GuessProtocol(header);
        if (hint != null)
        {
            sb.Append(' ').Append(hint);
        }

        return sb.ToString();
    }

    public static string ToHex(ReadOnlySpan<byte> bytes)
    {
        var sb = new StringBuilder(bytes.Length * 3);
        for (int i = 0; i < bytes.Length; i++)
        {
            if (i > 0)
            {
                sb.Append(' ');
            }

            sb.Append(bytes[i].ToString("X2", CultureInfo.InvariantCulture));
        }

        return sb.ToString();
    }

    /// <summary>Printable ASCII as is; quotes, backslashes and everything else escaped (\n, \r, \t, \xNN).</summary>
    public static string Escape(ReadOnlySpan<byte> bytes)
    {
        var sb = new StringBuilder(bytes.Length * 2);
        foreach (byte b in bytes)
        {
            switch (b)
            {
                case (byte)'\\': sb.Append("\\\\"); break;
                case (byte)'"': sb.Append("\\\""); break;
                case (byte)'\n': sb.Append("\\n"); break;
                case (byte)'\r': sb.Append("\\r"); break;
                case (byte)'\t': sb.Append("\\t"); break;
                default:
                    if (b >= 0x20 && b < 0x7F)
                    {
                        sb.Append((char)b);
                    }
                    else
                    {
                        sb.Append("\\x").Append(b.ToString("X2", CultureInfo.InvariantCulture));
                    }

                    break;
            }
        }

        return sb.ToString();
    }

    public static string? GuessProtocol(ReadOnlySpan<byte> header)
    {
        if (header.Length >= 2 && header[0] == 0x16 && header[1] == 0x03)
        {
            return "The bytes look like a TLS handshake record: the peer is speaking TLS; wrap the stream in an SslStream before framing it.";
        }

        if (StartsWithAscii(header, "GET ") || StartsWithAscii(header, "POST") || StartsWithAscii(header, "PUT ")
            || StartsWithAscii(header, "HEAD") || StartsWithAscii(header, "DELETE") || StartsWithAscii(header, "OPTIONS")
            || StartsWithAscii(header, "PATCH") || StartsWithAscii(header, "CONNECT") || StartsWithAscii(header, "HTTP/"))
        {
            return "The bytes look like HTTP: the peer is speaking HTTP, not this framing protocol.";
        }

        if (StartsWithAscii(header, "SSH-"))
        {
            return "The bytes look like an SSH banner: the peer is an SSH client or server.";
        }

        return null;
    }

    private static bool StartsWithAscii(ReadOnlySpan<byte> bytes, string prefix)
    {
        if (bytes.Length < prefix.Length)
        {
            return false;
        }

        for (int i = 0; i < prefix.Length; i++)
        {
            if (bytes[i] != prefix[i])
            {
                return false;
            }
        }

        return true;
    }
}
