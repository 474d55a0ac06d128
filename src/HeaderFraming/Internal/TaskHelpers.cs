using System;
using System.Threading;
using System.Threading.Tasks;

namespace HeaderFraming.Internal;

internal static class TaskHelpers
{
    /// <summary>Waits for <paramref name="task"/> or for cancellation, whichever comes first (the task goes on).</summary>
    public static Task WaitAsync(Task task, CancellationToken cancellationToken)
    {
#if NET
        return task.WaitAsync(cancellationToken);
#else
        if (task.IsCompleted || !cancellationToken.CanBeCanceled)
        {
            return task;
        }

        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled(cancellationToken);
        }

        return WaitSlowAsync(task, cancellationToken);

        static async Task WaitSlowAsync(Task task, CancellationToken cancellationToken)
        {
            var cancelled = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            using (cancellationToken.Register(static s => ((TaskCompletionSource<bool>)s!).TrySetResult(true), cancelled))
            {
                if (await Task.WhenAny(task, cancelled.Task).ConfigureAwait(false) != task)
                {
                    throw new OperationCanceledException(cancellationToken);
                }
            }

            await task.ConfigureAwait(false);
        }
#endif
    }
}
