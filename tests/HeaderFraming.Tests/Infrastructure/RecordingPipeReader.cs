using System.IO.Pipelines;

namespace HeaderFraming.Tests.Infrastructure;

/// <summary>Wraps a real <see cref="PipeReader"/> and records the largest buffer it handed out.</summary>
public sealed class RecordingPipeReader : PipeReader
{
    private readonly PipeReader _inner;
    private long _maxBuffered;

    public RecordingPipeReader(PipeReader inner) => _inner = inner;

    public long MaxBuffered => Interlocked.Read(ref _maxBuffered);

    public override void AdvanceTo(SequencePosition consumed) => _inner.AdvanceTo(consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined) => _inner.AdvanceTo(consumed, examined);

    public override void CancelPendingRead() => _inner.CancelPendingRead();

    public override void Complete(Exception? exception = null) => _inner.Complete(exception);

    public override async ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        ReadResult result = await _inner.ReadAsync(cancellationToken);
        Record(result.Buffer.Length);
        return result;
    }

    public override bool TryRead(out ReadResult result)
    {
        bool read = _inner.TryRead(out result);
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
