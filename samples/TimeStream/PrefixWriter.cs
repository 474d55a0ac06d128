using System.Text;

namespace TimeStream;

/// <summary>Prefixes every line (the demo runs server and client in one console).</summary>
public sealed class PrefixWriter(string prefix, TextWriter inner) : TextWriter
{
    public override Encoding Encoding => inner.Encoding;

    public override void WriteLine(string? value)
    {
        lock (inner)
        {
            inner.WriteLine(prefix + value);
        }
    }

    public override void Write(char value) => inner.Write(value);
}
