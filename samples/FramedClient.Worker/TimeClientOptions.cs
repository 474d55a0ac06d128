namespace FramedClient.Worker;

/// <summary>Where the worker connects and how it backs off ("TimeClient" in configuration).</summary>
public sealed class TimeClientOptions
{
    public const string Section = "TimeClient";

    public string Host { get; set; } = "127.0.0.1";

    public int Port { get; set; } = 1243;

    /// <summary>The wait before the first reconnect; it doubles after each failed attempt, up to <see cref="MaxReconnectDelay"/>.</summary>
    public TimeSpan InitialReconnectDelay { get; set; } = TimeSpan.FromSeconds(1);

    public TimeSpan MaxReconnectDelay { get; set; } = TimeSpan.FromSeconds(30);
}
