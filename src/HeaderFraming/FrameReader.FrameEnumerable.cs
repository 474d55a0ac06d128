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

        public FrameEnumerable(FrameReader reader, CancellationToken token)
        {
            _reader = reader;
            _token = token;
            _linkedToken = token;
        }

        public Frame Current { get; private set; }

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
            if (!_done && !_linkedToken.IsCancellationRequested && _reader.TryReadFrame(out Frame frame))
            {
                Current = frame;
                return new ValueTask<bool>(true);
            }

            return MoveNextSlowAsync();
        }

        public ValueTask DisposeAsync()
        {
            _done = true;
            Current = default;
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
            FrameReadResult result = await _reader.ReadFrameCoreAsync(_linkedToken).ConfigureAwait(false);
            if (!result.HasFrame)
            {
                _done = true;
                Current = default;
                return false;
            }

            Current = result.Frame;
            return true;
        }
    }
}
