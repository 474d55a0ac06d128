using System.Globalization;

namespace HeaderFraming.Benchmarks.Footprint;

/// <summary>The soft limit of open files of this process (one per socket), checked before opening thousands of sockets so
/// that a low limit is a clear error rather than an accept failing half-way.</summary>
internal static class FileLimit
{
    /// <summary>Files the runtime and the probe itself keep open besides the sockets (listener, epoll, pipes, assemblies).</summary>
    private const int Reserve = 200;

    public static void Check(int sockets, string who)
    {
        long? limit = SoftLimit();
        if (limit is long soft && sockets + Reserve > soft)
        {
            throw new InvalidOperationException(
                $"{who} need {sockets:N0} sockets and about {Reserve} other files, but the soft limit of open files is " +
                $"{soft:N0} (ulimit -n): raise it or use a smaller N.");
        }
    }

    /// <summary>"Max open files" of /proc/self/limits, or <see langword="null"/> where there is none.</summary>
    private static long? SoftLimit()
    {
        const string Limits = "/proc/self/limits";
        if (!File.Exists(Limits))
        {
            return null;
        }

        foreach (string line in File.ReadLines(Limits))
        {
            // "Max open files            20000                20000                files"
            if (line.StartsWith("Max open files", StringComparison.Ordinal))
            {
                string soft = line["Max open files".Length..].Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries)[0];
                return soft == "unlimited" ? null : long.Parse(soft, CultureInfo.InvariantCulture);
            }
        }

        return null;
    }
}
