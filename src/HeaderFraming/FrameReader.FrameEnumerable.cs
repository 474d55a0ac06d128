using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Threading;
using System.Threading.Tasks;

namespace HeaderFraming;

public sealed partial class FrameReader
{
    /// <summary>
    /// <see cref="ReadAllAsync"/>'s sequence, written by hand: a frame already buffered is returned from
    /// <see cref="MoveNextAsync"/> synchronously (a <see cref="ValueTask{Boolean}"/> over <see langword="true"/>), and only a
    /// wait for bytes goes through an async method. One object is both the sequence and its first enumerator, as the
    /// compiler's iterators are.
    /// </summary>
    private sealed class FrameEnumerable : IAsyncEnumerable<Frame>, IAsyncEnumerator<Frame>
    {
        private readonly FrameReader _reader;
        private readonly CancellationToken _token;
        private CancellationToken _linkedToken;
        private CancellationTokenSource? _linked;
        private int _enumerated;
        private bool _done;

        // The current frame: a contiguous frame in an array as its parts (read back by Current without a struct copy
        // through memory), any other frame whole.
        private byte[]? _array;
        private int _start;
        private int _length;
        private int _headerLength;
        private long _streamOffset;
        private Frame _other;

        public FrameEnumerable(FrameReader reader, CancellationToken token)
        {
            _reader = reader;
            _token = token;
            _linkedToken = token;
        }

        public Frame Current => _array != null ? new Frame(_array, _start, _length, _headerLength, _streamOffset) : _other;

        public IAsyncEnumerator<Frame> GetAsyncEnumerator(CancellationToken cancellationToken = default)
        {
            FrameEnumerable enumerator = Interlocked.Exchange(ref _enumerated, 1) == 0 ? this : new FrameEnumerable(_reader, _token);
            enumerator._enumerated = 1;
            if (cancellationToken.CanBeCanceled && cancellationToken != _token)
            {
                if (_token.CanBeCanceled)
                {
                    enumerator._linked = CancellationTokenSource.CreateLinkedTokenSource(_token, cancellationToken);
                    enumerator._linkedToken = enumerator._linked.Token;
                }
                else
                {
                    enumerator._linkedToken = cancellationToken;
                }
            }

            return enumerator;
        }

        public ValueTask<bool> MoveNextAsync()
        {
            FrameReader reader = _reader;
            byte[]? array = reader._segmentArray;
            if (array != null && reader._segment != null && !_done && !_linkedToken.IsCancellationRequested
                && reader.TryDecodeContiguous(out int index, out int headerLength, out int payloadLength))
            {
                int length = headerLength + payloadLength;
                _array = array;
                _start = reader._segmentArrayOffset + index;
                _length = length;
                _headerLength = headerLength;
                _streamOffset = reader._offset - length;
                return new ValueTask<bool>(true);
            }

            return MoveNextSlowAsync();
        }

        private void SetOther(in Frame frame)
        {
            _array = null;
            _other = frame;
        }

        public ValueTask DisposeAsync()
        {
            _done = true;
            SetOther(default);
            _linked?.Dispose();
            return default;
        }

#if NET
        [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
#endif
        [MethodImpl(MethodImplOptions.NoInlining)]
        private async ValueTask<bool> MoveNextSlowAsync()
        {
            if (_done)
            {
                return false;
            }

            _linkedToken.ThrowIfCancellationRequested();
            if (_reader.TryReadFrame(out Frame buffered))
            {
                SetOther(buffered);
                return true;
            }

            FrameReadResult result = await _reader.ReadFrameCoreAsync(_linkedToken).ConfigureAwait(false);
            if (!result.HasFrame)
            {
                _done = true;
                SetOther(default);
                return false;
            }

            SetOther(result.Frame);
            return true;
        }
    }
}
