using System;
using System.Diagnostics;
using System.Threading.Tasks;

namespace HeaderFraming.Testing;

/// <summary>Waits for a state instead of sleeping for a guess: polls a condition every few milliseconds, with a bound, so
/// that a bug fails the test instead of hanging it.</summary>
public static class Poll
{
    /// <summary>Polls <paramref name="condition"/> until it holds.</summary>
    /// <param name="condition">The state waited for; called on the pool, so it must be safe to call from any thread.</param>
    /// <param name="limit">How long to wait at most.</param>
    /// <param name="what">What was waited for, with the state seen: called once, at the deadline, so that it reports the
    /// state then, not when the wait began.</param>
    /// <exception cref="TimeoutException"><paramref name="condition"/> did not hold within <paramref name="limit"/>; the
    /// message is <paramref name="what"/>'s.</exception>
    public static async Task UntilAsync(Func<bool> condition, TimeSpan limit, Func<string> what)
    {
        Stopwatch waited = Stopwatch.StartNew();
        while (!condition())
        {
            if (waited.Elapsed >= limit)
            {
                throw new TimeoutException($"timed out after {waited.Elapsed.TotalSeconds:0.0} s waiting until {what()}");
            }

            await Task.Delay(5).ConfigureAwait(false);
        }
    }
}
