using System.Globalization;

namespace HeaderFraming.Benchmarks.Footprint;

/// <summary>The process's memory after a full, compacting collection: the managed heap (<see cref="GC.GetTotalMemory"/>)
/// and the resident set (VmRSS of /proc/self/status; the working set where there is no /proc).</summary>
internal readonly record struct MemorySnapshot(long ManagedBytes, long ResidentBytes)
{
    public static MemorySnapshot Take()
    {
        // Finalizers first (a socket's handle, a timer), then a full blocking collection until the heap is stable.
        GC.Collect();
        GC.WaitForPendingFinalizers();
        long managed = GC.GetTotalMemory(forceFullCollection: true);
        return new MemorySnapshot(managed, ReadResidentBytes());
    }

    private static long ReadResidentBytes()
    {
        const string Status = "/proc/self/status";
        if (File.Exists(Status))
        {
            foreach (string line in File.ReadLines(Status))
            {
                // "VmRSS:	  123456 kB"
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    string kib = line["VmRSS:".Length..].Trim().Split(' ')[0];
                    return long.Parse(kib, CultureInfo.InvariantCulture) * 1024;
                }
            }
        }

        using var self = System.Diagnostics.Process.GetCurrentProcess();
        return self.WorkingSet64;
    }
}
