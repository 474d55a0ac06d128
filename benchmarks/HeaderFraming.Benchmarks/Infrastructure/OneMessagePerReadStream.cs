namespace HeaderFraming.Benchmarks.Infrastructure;

/// <summary>
/// A read-only stream over a workload that never returns bytes of two messages in one read, as if every message arrived
/// in its own TCP segment with the reader keeping up. The seed tutorial's client only works on such a stream.
/// </summary>
public sealed class OneMessagePerReadStream : Stream
{
    private readonly byte[] _buffer;
    private readonly int[] _messageEnds;
    private int _position;
    private int _message;

    public OneMessagePerReadStream(Workload workload)
    {
        _buffer = workload.Buffer;
        _messageEnds = workload.FrameEnds;
    }

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => _position; set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        if (_message == _messageEnds.Length)
        {
            return 0;
        }

        int end = _messageEnds[_message];
        int count = Math.Min(buffer.Length, end - _position);
        _buffer.AsSpan(_position, count).CopyTo(buffer);
        _position += count;
        if (_position == end)
        {
            _message++;
        }

        return count;
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        => new(Read(buffer.Span));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => Task.FromResult(Read(buffer.AsSpan(offset, count)));

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
