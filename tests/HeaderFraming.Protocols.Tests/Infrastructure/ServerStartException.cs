namespace HeaderFraming.Protocols.Tests.Infrastructure;

/// <summary>A server did not come up; the message holds the end of its logs.</summary>
public sealed class ServerStartException : Exception
{
    public ServerStartException(string message, bool exitedEarly)
        : base(message)
    {
        ExitedEarly = exitedEarly;
    }

    /// <summary>It exited before listening (a port lost to another process, a bad configuration) rather than timing out.</summary>
    public bool ExitedEarly { get; }
}
