using System.IO.Pipelines;

namespace HeaderFraming.Tests.Infrastructure;

/// <summary>Wraps a real <see cref="PipeReader"/> and records the largest buffer it handed out.</summary>
public sealed class RecordingPipeReader(PipeReader inner) : DelegatingPipeReader(inner)
{
    private long _maxBuffered;

    public long MaxBuffered => Interlocked.Read(ref _maxBuffered);

    public override async ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        ReadResult result = await Inner.ReadAsync(cancellationToken);
        Record(result.Buffer.Length);
        return result;
    }

    public override bool TryRead(out ReadResult result)
    {
        bool read = Inner.TryRead(out result);
        if (read)
        {
            Record(result.Buffer.Length);
        }

        return read;
    }

    private void Record(long length)
    {
        long current;
        while (length > (current = Interlocked.Read(ref _maxBuffered)) && Interlocked.CompareExchange(ref _maxBuffered, length, current) != current)
        {
        }
    }
}
