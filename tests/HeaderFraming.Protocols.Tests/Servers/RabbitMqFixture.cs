namespace HeaderFraming.Protocols.Tests.Servers;

/// <summary>
/// One <see cref="RabbitMqServer"/> for every test of <see cref="RabbitMqCollection"/> (a node takes about 5 s to boot):
/// started before the first of them, stopped after the last. Nothing is started when RabbitMQ is not installed; the
/// tests then skip through <c>RequiresProgramFact</c>.
/// </summary>
/// <remarks>Tests share the node: each uses connections of its own, and names of its own for whatever it declares.</remarks>
public sealed class RabbitMqFixture : IAsyncLifetime
{
    private RabbitMqServer? _server;

    /// <summary>The shared node.</summary>
    public RabbitMqServer Server => _server ?? throw new InvalidOperationException($"{RabbitMqServer.Program} is not installed.");

    public async Task InitializeAsync()
    {
        if (HeaderFraming.Tests.Infrastructure.ServerProcess.Find(RabbitMqServer.Program) != null)
        {
            _server = await RabbitMqServer.StartAsync();
        }
    }

    public async Task DisposeAsync()
    {
        if (_server != null)
        {
            await _server.DisposeAsync();
        }
    }
}
