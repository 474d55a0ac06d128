namespace HeaderFraming.Benchmarks.Footprint;

/// <summary>One row of the footprint table: what the server holds for each idle connection.</summary>
/// <param name="Name">The name <c>--rows</c> takes.</param>
/// <param name="Title">The row's label in the table.</param>
/// <param name="UsesTls">Whether the clients make a TLS handshake before they send their frame.</param>
internal sealed record FootprintRow(string Name, string Title, bool UsesTls)
{
    public static FootprintRow Socket { get; } = new("socket", "FramedConnection over a Socket", UsesTls: false);

    public static FootprintRow NetworkStream { get; } = new("networkstream", "FramedConnection over a NetworkStream", UsesTls: false);

    public static FootprintRow SslStream { get; } = new("sslstream", "FramedConnection over an SslStream", UsesTls: true);

    /// <summary>The floor: an accepted socket with a pending zero-byte receive, nothing else.</summary>
    public static FootprintRow Floor { get; } = new("floor", "bare Socket, pending zero-byte receive (floor)", UsesTls: false);

    public static FootprintRow Floor4KiB { get; } = new("floor4k", "bare Socket, pending 4 KiB receive", UsesTls: false);

    /// <summary>Every row, in the table's order.</summary>
    public static IReadOnlyList<FootprintRow> All { get; } = [Socket, NetworkStream, SslStream, Floor, Floor4KiB];

    /// <summary>The client variant the child process is started with.</summary>
    public string ClientVariant => UsesTls ? "tls" : "tcp";

    public static FootprintRow Parse(string name)
        => All.FirstOrDefault(r => string.Equals(r.Name, name, StringComparison.OrdinalIgnoreCase))
            ?? throw new ArgumentException($"Unknown footprint row '{name}'; the rows are {string.Join(", ", All.Select(r => r.Name))}.");
}
