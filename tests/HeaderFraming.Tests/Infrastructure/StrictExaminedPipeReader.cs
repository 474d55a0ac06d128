using System.Buffers;
using System.IO.Pipelines;

namespace HeaderFraming.Tests.Infrastructure;

/// <summary>
/// A <see cref="Pipe"/>'s reader that refuses an examined position before the previous one, as System.IO.Pipelines 8 does
/// ("The examined position cannot be less than the previously examined position"; 10 accepts it), so that the tests, which
/// run on the .NET 10 runtime, hold the reader to what the net8.0 and netstandard2.0 builds meet.
/// </summary>
public sealed class StrictExaminedPipeReader(PipeReader inner) : DelegatingPipeReader(inner)
{
    private ReadOnlySequence<byte> _buffer;
    private long _bufferStart;   // the stream offset of _buffer's start (the last consumed position)
    private long _examined;      // the stream offset of the last examined position

    public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
    {
        long consumedAt = _bufferStart + _buffer.Slice(_buffer.Start, consumed).Length;
        long examinedAt = _bufferStart + _buffer.Slice(_buffer.Start, examined).Length;
        if (examinedAt < _examined)
        {
            throw new InvalidOperationException($"The examined position cannot be less than the previously examined position (examined {examinedAt:N0} after {_examined:N0}).");
        }

        _examined = examinedAt;
        _bufferStart = consumedAt;
        _buffer = default;
        Inner.AdvanceTo(consumed, examined);
    }

    public override async ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
        => Took(await Inner.ReadAsync(cancellationToken).ConfigureAwait(false));

    public override bool TryRead(out ReadResult result)
    {
        if (!Inner.TryRead(out result))
        {
            return false;
        }

        Took(result);
        return true;
    }

    protected override async ValueTask<ReadResult> ReadAtLeastAsyncCore(int minimumSize, CancellationToken cancellationToken)
        => Took(await Inner.ReadAtLeastAsync(minimumSize, cancellationToken).ConfigureAwait(false));

    private ReadResult Took(ReadResult result)
    {
        _buffer = result.Buffer;
        return result;
    }
}
