namespace HeaderFraming.Tests.Infrastructure;

/// <summary>
/// A duplex stream double that fails on cue: reads return <c>input</c> (at most <see cref="ChunkSize"/> bytes at a time),
/// then throw the given exception, either synchronously from <c>ReadAsync</c> or from the task it returns; writes are
/// kept in <see cref="Written"/> until <see cref="WriteException"/> is set, then throw it.
/// </summary>
public sealed class ThrowingStream(ReadOnlyMemory<byte> input, Exception readException, bool throwSynchronously = false) : Stream
{
    private readonly MemoryStream _written = new();
    private int _position;
    private int _disposed;

    public int ChunkSize { get; init; } = 7;

    /// <summary>When set, every later write throws it.</summary>
    public Exception? WriteException { get; set; }

    public bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    public byte[] Written
    {
        get
        {
            lock (_written)
            {
                return _written.ToArray();
            }
        }
    }

    public override bool CanRead => true;

    public override bool CanWrite => true;

    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        if (_position < input.Length)
        {
            int n = Math.Min(Math.Min(ChunkSize, buffer.Length), input.Length - _position);
            input.Slice(_position, n).CopyTo(buffer);
            _position += n;
            return new ValueTask<int>(n);
        }

        if (throwSynchronously)
        {
            throw readException;
        }

        return FailAsync();

        async ValueTask<int> FailAsync()
        {
            await Task.Yield();
            throw readException;
        }
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count, CancellationToken.None).GetAwaiter().GetResult();

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        if (WriteException is Exception fault)
        {
            return ValueTask.FromException(fault);
        }

        lock (_written)
        {
            _written.Write(buffer.Span);
        }

        return default;
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer, offset, count, CancellationToken.None).GetAwaiter().GetResult();

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        Volatile.Write(ref _disposed, 1);
        base.Dispose(disposing);
    }
}
