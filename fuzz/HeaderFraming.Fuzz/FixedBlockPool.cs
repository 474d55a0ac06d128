using System;
using System.Buffers;

namespace HeaderFraming.Fuzz;

/// <summary>
/// A memory pool whose blocks are all <see cref="MaxBufferSize"/> bytes, so a <see cref="System.IO.Pipelines.Pipe"/> splits the
/// stream into segments of that size. Blocks are array slices at a non-zero offset, or (<c>native</c>) memory that does not
/// expose an array, which sends the reader down its non-array path.
/// </summary>
public sealed class FixedBlockPool : MemoryPool<byte>
{
    private readonly int _blockSize;
    private readonly bool _native;

    public FixedBlockPool(int blockSize, bool native)
    {
        _blockSize = blockSize;
        _native = native;
    }

    public override int MaxBufferSize => _blockSize;

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        FuzzCheckException.Check(minBufferSize <= _blockSize, $"the pipe asked for {minBufferSize} bytes from a pool of {_blockSize}-byte blocks");
        return _native ? new NonArrayMemory(_blockSize) : new ArrayBlock(_blockSize);
    }

    protected override void Dispose(bool disposing)
    {
    }

    private sealed class ArrayBlock : IMemoryOwner<byte>
    {
        private const int Offset = 3;

        public ArrayBlock(int size) => Memory = new Memory<byte>(new byte[size + Offset], Offset, size);

        public Memory<byte> Memory { get; }

        public void Dispose()
        {
        }
    }

    /// <summary>Memory whose <see cref="MemoryManager{T}.TryGetArray"/> fails, as with native or pinned-pool memory.</summary>
    private sealed class NonArrayMemory : MemoryManager<byte>
    {
        private readonly byte[] _bytes;

        public NonArrayMemory(int size) => _bytes = new byte[size];

        public override Span<byte> GetSpan() => _bytes;

        public override MemoryHandle Pin(int elementIndex = 0) => throw new NotSupportedException("The harness's memory is never pinned.");

        public override void Unpin()
        {
        }

        protected override void Dispose(bool disposing)
        {
        }
    }
}
