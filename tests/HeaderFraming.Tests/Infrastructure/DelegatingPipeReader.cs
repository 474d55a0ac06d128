using System.IO.Pipelines;

namespace HeaderFraming.Tests.Infrastructure;

/// <summary>A <see cref="PipeReader"/> that forwards every call to another one: the base of test doubles that watch or
/// change a few calls of a real pipe. <c>ReadAtLeastAsync</c> is not forwarded unless a double overrides
/// <see cref="PipeReader.ReadAtLeastAsyncCore"/>, so that its reads go through <see cref="ReadAsync"/>.</summary>
public abstract class DelegatingPipeReader(PipeReader inner) : PipeReader
{
    protected PipeReader Inner { get; } = inner;

    public override void AdvanceTo(SequencePosition consumed) => Inner.AdvanceTo(consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined) => Inner.AdvanceTo(consumed, examined);

    public override void CancelPendingRead() => Inner.CancelPendingRead();

    public override void Complete(Exception? exception = null) => Inner.Complete(exception);

    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default) => Inner.ReadAsync(cancellationToken);

    public override bool TryRead(out ReadResult result) => Inner.TryRead(out result);
}
