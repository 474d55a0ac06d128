namespace HeaderFraming.Tests.Infrastructure;

/// <summary>
/// A read-only stream that returns scripted chunks, one per read, then throws <see cref="Failure"/> from every further read,
/// as a socket does after a reset. Counts the reads so a test can tell that nobody spun on it.
/// </summary>
public sealed class ScriptedFailingStream : Stream
{
    private readonly Queue<byte[]> _chunks;
    private int _offset;

    public ScriptedFailingStream(IEnumerable<byte[]> chunks, Exception failure)
    {
        _chunks = new Queue<byte[]>(chunks);
        Failure = failure;
    }

    public Exception Failure { get; }

    public int ReadCount { get; private set; }

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        ReadCount++;
        if (_chunks.Count == 0)
        {
            throw Failure;
        }

        byte[] chunk = _chunks.Peek();
        int n = Math.Min(chunk.Length - _offset, buffer.Length);
        chunk.AsSpan(_offset, n).CopyTo(buffer);
        _offset += n;
        if (_offset == chunk.Length)
        {
            _chunks.Dequeue();
            _offset = 0;
        }

        return n;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        await Task.Yield();
        cancellationToken.ThrowIfCancellationRequested();
        return Read(buffer.Span);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
