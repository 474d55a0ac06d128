using System.IO.Pipelines;

namespace HeaderFraming.Testing;

/// <summary>An <see cref="IDuplexPipe"/> made of a reader and a writer, as a transport (Kestrel's) hands one to a
/// connection; <see cref="CreatePair"/> makes two ends joined back to back.</summary>
public sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
{
    public PipeReader Input { get; } = input;

    public PipeWriter Output { get; } = output;

    /// <summary>Two ends of an in-memory connection: what one writes, the other reads.</summary>
    public static (IDuplexPipe A, IDuplexPipe B) CreatePair()
    {
        var ab = new Pipe();
        var ba = new Pipe();
        return (new DuplexPipe(ba.Reader, ab.Writer), new DuplexPipe(ab.Reader, ba.Writer));
    }
}
