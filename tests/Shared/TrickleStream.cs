using System;
using System.IO;
using System.Threading;
using System.Threading.Tasks;

namespace HeaderFraming.Testing;

/// <summary>
/// A duplex stream double that trickles a script: each read returns at most <c>bytesPerRead</c> bytes of the input (built
/// with chunk ends instead: never bytes of two chunks), and never more than the caller asked for. Once the input is used
/// up, reads return 0 (the end of the stream), or throw <see cref="ReadException"/>: synchronously from
/// <c>ReadAsync</c> with <see cref="ThrowsSynchronously"/>, otherwise from the task it returns, as a socket does after a
/// reset. Writes are kept in <see cref="Written"/> until <see cref="WriteException"/> is set, then fail with it.
/// </summary>
/// <remarks>Reads complete synchronously while there is input (unless <see cref="YieldsOnEveryRead"/>); a read is not
/// expected to race another. <see cref="ReadCount"/> counts every read, so that a test can tell that nobody spun on it.</remarks>
public class TrickleStream : Stream
{
    private readonly ReadOnlyMemory<byte> _input;
    private readonly int _bytesPerRead;
    private readonly int[]? _chunkEnds;
    private MemoryStream? _written;
    private int _position;
    private int _chunk;
    private int _disposed;

    public TrickleStream(ReadOnlyMemory<byte> input, int bytesPerRead = int.MaxValue)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytesPerRead);
        _input = input;
        _bytesPerRead = bytesPerRead;
    }

    /// <summary>A stream whose reads stop at every chunk end: <paramref name="chunkEnds"/> are offsets into
    /// <paramref name="input"/>, increasing, the last one its length (one message per read, say).</summary>
    /// <remarks>Checked as the reads reach them, not here: a benchmark makes one of these per invocation, over a million
    /// frames.</remarks>
    public TrickleStream(ReadOnlyMemory<byte> input, int[] chunkEnds)
        : this(input)
    {
        ArgumentNullException.ThrowIfNull(chunkEnds);
        if (input.Length > 0 && (chunkEnds.Length == 0 || chunkEnds[^1] != input.Length))
        {
            throw new ArgumentException("The last chunk end must be the input's length.", nameof(chunkEnds));
        }

        _chunkEnds = chunkEnds;
    }

    /// <summary>What every read after the input throws; <see langword="null"/>: those reads return 0.</summary>
    public Exception? ReadException { get; init; }

    /// <summary>Whether <see cref="ReadException"/> is thrown by <c>ReadAsync</c> itself rather than from its task.</summary>
    public bool ThrowsSynchronously { get; init; }

    /// <summary>Whether every <c>ReadAsync</c> yields before it reads, so that none completes synchronously.</summary>
    public bool YieldsOnEveryRead { get; init; }

    /// <summary>When set, every later write fails with it.</summary>
    public Exception? WriteException { get; set; }

    public int ReadCount { get; private set; }

    public bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    /// <summary>Everything written so far.</summary>
    public byte[] Written
    {
        get
        {
            MemoryStream? written = Volatile.Read(ref _written);
            if (written is null)
            {
                return [];
            }

            lock (written)
            {
                return written.ToArray();
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

    public override int Read(Span<byte> buffer)
    {
        StartRead();
        if (_position < _input.Length)
        {
            return Deliver(buffer);
        }

        ValueTask<int> end = ReadPastEndAsync(CancellationToken.None);
        return end.IsCompletedSuccessfully ? end.Result : end.AsTask().GetAwaiter().GetResult();
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        StartRead();
        if (YieldsOnEveryRead)
        {
            return YieldThenReadAsync(buffer, cancellationToken);
        }

        return _position < _input.Length ? new ValueTask<int>(Deliver(buffer.Span)) : ReadPastEndAsync(cancellationToken);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        return WriteCoreAsync(buffer, cancellationToken);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    /// <summary>A read once the input is used up: 0, or <see cref="ReadException"/>.</summary>
    protected virtual ValueTask<int> ReadPastEndAsync(CancellationToken cancellationToken)
    {
        if (ReadException is not Exception fault)
        {
            return new ValueTask<int>(0);
        }

        if (ThrowsSynchronously)
        {
            throw fault;
        }

        return FailAsync(fault);

        static async ValueTask<int> FailAsync(Exception fault)
        {
            await Task.Yield();
            throw fault;
        }
    }

    /// <summary>A write: kept, or failed with <see cref="WriteException"/>.</summary>
    protected virtual ValueTask WriteCoreAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken)
    {
        if (WriteException is Exception fault)
        {
            return ValueTask.FromException(fault);
        }

        // Made by the first write: a read-only use (a benchmark's, per invocation) allocates nothing for it.
        MemoryStream written = LazyInitializer.EnsureInitialized(ref _written);
        lock (written)
        {
            written.Write(buffer.Span);
        }

        return default;
    }

    protected override void Dispose(bool disposing)
    {
        Volatile.Write(ref _disposed, 1);
        base.Dispose(disposing);
    }

    private void StartRead()
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        ReadCount++;
    }

    private async ValueTask<int> YieldThenReadAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        await Task.Yield();
        cancellationToken.ThrowIfCancellationRequested();
        return _position < _input.Length ? Deliver(buffer.Span) : await ReadPastEndAsync(cancellationToken).ConfigureAwait(false);
    }

    private int Deliver(Span<byte> buffer)
    {
        int chunkLeft = _chunkEnds is null ? _bytesPerRead : _chunkEnds[_chunk] - _position;
        if (chunkLeft <= 0)
        {
            throw new InvalidOperationException($"Chunk end {_chunk} ({_chunkEnds![_chunk]}) is not after the one before it.");
        }

        int n = Math.Min(Math.Min(chunkLeft, buffer.Length), _input.Length - _position);
        _input.Span.Slice(_position, n).CopyTo(buffer);
        _position += n;
        if (_chunkEnds is not null && _position == _chunkEnds[_chunk])
        {
            _chunk++;
        }

        return n;
    }
}
