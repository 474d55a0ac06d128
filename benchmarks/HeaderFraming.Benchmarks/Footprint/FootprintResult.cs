using System.Globalization;

namespace HeaderFraming.Benchmarks.Footprint;

/// <summary>What one server process measured for one row, as the one line it prints for the probe.</summary>
internal sealed record FootprintResult(string Row, int Count, MemorySnapshot Before, MemorySnapshot After, double SetUpSeconds)
{
    private const string Prefix = "FOOTPRINT-RESULT";

    public double ManagedKiBPerConnection => (After.ManagedBytes - Before.ManagedBytes) / 1024.0 / Count;

    public double ResidentKiBPerConnection => (After.ResidentBytes - Before.ResidentBytes) / 1024.0 / Count;

    public string ToLine() => string.Join(
        ' ',
        Prefix,
        Row,
        Count.ToString(CultureInfo.InvariantCulture),
        Before.ManagedBytes.ToString(CultureInfo.InvariantCulture),
        After.ManagedBytes.ToString(CultureInfo.InvariantCulture),
        Before.ResidentBytes.ToString(CultureInfo.InvariantCulture),
        After.ResidentBytes.ToString(CultureInfo.InvariantCulture),
        SetUpSeconds.ToString("R", CultureInfo.InvariantCulture));

    /// <summary>The result on <paramref name="line"/>, or <see langword="null"/> if it is another line of output.</summary>
    public static FootprintResult? TryParse(string line)
    {
        string[] parts = line.Split(' ');
        if (parts.Length != 8 || parts[0] != Prefix)
        {
            return null;
        }

        long L(int i) => long.Parse(parts[i], CultureInfo.InvariantCulture);
        return new FootprintResult(
            parts[1],
            int.Parse(parts[2], CultureInfo.InvariantCulture),
            new MemorySnapshot(L(3), L(5)),
            new MemorySnapshot(L(4), L(6)),
            double.Parse(parts[7], CultureInfo.InvariantCulture));
    }
}
