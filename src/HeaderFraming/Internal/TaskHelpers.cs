using System;
using System.Threading;
using System.Threading.Tasks;

namespace HeaderFraming.Internal;

internal static class TaskHelpers
{
    /// <summary>Waits for <paramref name="task"/> to end (successfully or not) or for <paramref name="limit"/> to pass,
    /// whichever comes first, without throwing. Unlike <c>Task.WhenAny(task, Task.Delay(limit))</c>, it leaves no timer
    /// behind when the task ends first: a closed connection is not kept reachable for the rest of the limit.</summary>
    public static async Task WaitAtMostAsync(Task task, TimeSpan limit)
    {
        if (task.IsCompleted)
        {
            return;
        }

#if NET
        await task.WaitAsync(limit).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
#else
        using (var timer = new CancellationTokenSource())
        {
            await Task.WhenAny(task, Task.Delay(limit, timer.Token)).ConfigureAwait(false);
            timer.Cancel();
        }
#endif
    }

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
