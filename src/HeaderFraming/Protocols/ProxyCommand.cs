namespace HeaderFraming.Protocols;

/// <summary>What a PROXY protocol header asks of the receiver.</summary>
public enum ProxyCommand
{
    /// <summary>The connection was made by the proxy itself (a health check): use the connection's own endpoints.
    /// PROXY v2's command 0x0; v1 has no such command (<c>UNKNOWN</c> is reported as <see cref="Proxy"/> without endpoints).</summary>
    Local = 0,

    /// <summary>The connection is relayed for a client: the header's endpoints are the client's and the proxy's.</summary>
    Proxy = 1,
}
