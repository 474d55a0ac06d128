using System;
using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Threading;

namespace HeaderFraming.Internal;

/// <summary>
/// The connections' default <see cref="MemoryPool{T}"/>: blocks of 4 KiB to 1 MiB in power-of-two size classes, kept for
/// reuse once returned, so a server's connections stop allocating once the pool has grown to their peak use (the shared
/// <see cref="ArrayPool{T}"/> keeps only a few arrays of each size per core and churns under many connections).
/// </summary>
/// <remarks>
/// <para>The block objects are themselves the <see cref="IMemoryOwner{T}"/>s and are reused with their arrays, so a rent
/// from a warm pool allocates nothing. On .NET 8+ the arrays are pinned (the pinned object heap): sockets read into and
/// write from them without pinning per call, and they never fragment the compacting heap.</para>
/// <para>Like Kestrel's pool it trims itself: every 10 seconds each size class releases the blocks that
/// stayed unused through the whole interval, so the memory of a spike goes back to the GC once the spike is over.</para>
/// </remarks>
internal sealed class BlockMemoryPool : MemoryPool<byte>
{
    /// <summary>The smallest block: a first read of an idle connection, Kestrel's block size.</summary>
    public const int MinimumBlockSize = 4 * 1024;

    /// <summary>The largest block; larger requests are served by the pipe from <see cref="ArrayPool{T}.Shared"/>.</summary>
    public const int MaximumBlockSize = 1024 * 1024;

    // How long a free block may stay unused before a trim releases it: 10 seconds.
    private static readonly long s_trimIntervalTicks = Stopwatch.Frequency * 10;

    private readonly SizeClass[] _classes;

    public BlockMemoryPool()
    {
        int count = Log2(MaximumBlockSize / MinimumBlockSize) + 1;
        _classes = new SizeClass[count];
        for (int i = 0; i < count; i++)
        {
            _classes[i] = new SizeClass(MinimumBlockSize << i);
        }
    }

    /// <summary>The pool every connection uses unless <see cref="FramedConnectionOptions.MemoryPool"/> says otherwise.</summary>
    public static BlockMemoryPool Default { get; } = new BlockMemoryPool();

    public override int MaxBufferSize => MaximumBlockSize;

    /// <summary>Free blocks held, in bytes (tests and probes).</summary>
    public long RetainedBytes
    {
        get
        {
            long total = 0;
            foreach (SizeClass sizeClass in _classes)
            {
                total += (long)sizeClass.FreeCount * sizeClass.BlockSize;
            }

            return total;
        }
    }

    /// <summary>Bytes of blocks created since the pool was (tests: a warm pool creates none).</summary>
    public long BytesCreated => Interlocked.Read(ref _bytesCreated);

    private long _bytesCreated;

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        if (minBufferSize > MaximumBlockSize)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(minBufferSize), minBufferSize, "The pool's largest block is 1 MiB.");
        }

        int size = Math.Max(minBufferSize, MinimumBlockSize);
        SizeClass sizeClass = _classes[Log2((size + MinimumBlockSize - 1) / MinimumBlockSize * 2 - 1)];
        if (sizeClass.TryTake(out Block? block))
        {
            block.Rented();
            return block;
        }

        Interlocked.Add(ref _bytesCreated, sizeClass.BlockSize);
        block = new Block(sizeClass);
        block.Rented();
        return block;
    }

    protected override void Dispose(bool disposing)
    {
        // The shared pool lives as long as the process; a private one just stops being referenced.
    }

    private static int Log2(int value)
    {
        int log = 0;
        while ((value >>= 1) != 0)
        {
            log++;
        }

        return log;
    }

    private sealed class SizeClass(int blockSize)
    {
        private readonly ConcurrentQueue<Block> _free = new ConcurrentQueue<Block>();
        private long _windowStart = Stopwatch.GetTimestamp();
        private int _freeCount;
        private int _minFreeInWindow;

        public int BlockSize { get; } = blockSize;

        public int FreeCount => Volatile.Read(ref _freeCount);

        public bool TryTake([NotNullWhen(true)] out Block? block)
        {
            if (_free.TryDequeue(out block))
            {
                int free = Interlocked.Decrement(ref _freeCount);
                if (free < Volatile.Read(ref _minFreeInWindow))
                {
                    // Racy by design: the low-water mark only decides how many blocks a trim may release.
                    Volatile.Write(ref _minFreeInWindow, free);
                }

                return true;
            }

            Volatile.Write(ref _minFreeInWindow, 0);
            return false;
        }

        public void Return(Block block)
        {
            _free.Enqueue(block);
            Interlocked.Increment(ref _freeCount);
            long now = Stopwatch.GetTimestamp();
            long start = Volatile.Read(ref _windowStart);
            if (now - start >= s_trimIntervalTicks && Interlocked.CompareExchange(ref _windowStart, now, start) == start)
            {
                Trim();
            }
        }

        private void Trim()
        {
            // Blocks that stayed free for the whole interval were not needed: let the GC have them.
            int unused = Volatile.Read(ref _minFreeInWindow);
            for (int i = 0; i < unused && _free.TryDequeue(out _); i++)
            {
                Interlocked.Decrement(ref _freeCount);
            }

            Volatile.Write(ref _minFreeInWindow, Volatile.Read(ref _freeCount));
        }
    }

    private sealed class Block : IMemoryOwner<byte>
    {
        private readonly SizeClass _owner;
        private int _rented;

        public Block(SizeClass owner)
        {
            _owner = owner;
#if NET
            Memory = GC.AllocateUninitializedArray<byte>(owner.BlockSize, pinned: true);
#else
            Memory = new byte[owner.BlockSize];
#endif
        }

        public Memory<byte> Memory { get; }

        public void Rented() => Volatile.Write(ref _rented, 1);

        public void Dispose()
        {
            // Dispose is the return: a block goes back to its size class once, however often it is disposed.
            if (Interlocked.Exchange(ref _rented, 0) == 1)
            {
                _owner.Return(this);
            }
        }
    }
}
