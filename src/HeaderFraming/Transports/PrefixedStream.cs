using System;
using System.IO;
using System.Threading;
using System.Threading.Tasks;

namespace HeaderFraming.Transports;

/// <summary>A stream that reads some bytes already received first, then another stream, and writes to a third (or the
/// same): a detached transport's stream (<see cref="DetachedTransport.AsStream"/>).</summary>
internal sealed class PrefixedStream(ReadOnlyMemory<byte> prefix, Stream input, Stream output) : Stream
{
    private ReadOnlyMemory<byte> _prefix = prefix;

    public override bool CanRead => true;

    public override bool CanWrite => true;

    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count)
    {
        int taken = TakePrefix(buffer.AsSpan(offset, count));
        return taken > 0 || count == 0 ? taken : input.Read(buffer, offset, count);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        int taken = TakePrefix(buffer.AsSpan(offset, count));
        return taken > 0 || count == 0 ? Task.FromResult(taken) : input.ReadAsync(buffer, offset, count, cancellationToken);
    }

#if NET
    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int taken = TakePrefix(buffer.Span);
        return taken > 0 || buffer.IsEmpty ? new ValueTask<int>(taken) : input.ReadAsync(buffer, cancellationToken);
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        => output.WriteAsync(buffer, cancellationToken);
#endif

    public override void Write(byte[] buffer, int offset, int count) => output.Write(buffer, offset, count);

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => output.WriteAsync(buffer, offset, count, cancellationToken);

    public override void Flush() => output.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => output.FlushAsync(cancellationToken);

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            input.Dispose();
            if (!ReferenceEquals(input, output))
            {
                output.Dispose();
            }
        }

        base.Dispose(disposing);
    }

    private int TakePrefix(Span<byte> destination)
    {
        int count = Math.Min(destination.Length, _prefix.Length);
        _prefix.Span.Slice(0, count).CopyTo(destination);
        _prefix = _prefix.Slice(count);
        return count;
    }
}
