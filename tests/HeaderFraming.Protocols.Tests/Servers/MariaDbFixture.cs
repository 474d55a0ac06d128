namespace HeaderFraming.Protocols.Tests.Servers;

/// <summary>
/// One <see cref="MariaDbServer"/> for the tests of a class (<c>IClassFixture&lt;MariaDbFixture&gt;</c>): install and start
/// take about 2 s, a login a few milliseconds, so the tests of <see cref="MariaDbConversationTests"/> share a server and
/// each opens connections of its own. Nothing is started when MariaDB is not installed; the tests then skip through
/// <c>RequiresProgramFact</c>.
/// </summary>
public sealed class MariaDbFixture : IAsyncLifetime
{
    private MariaDbServer? _server;

    /// <summary>The shared server.</summary>
    public MariaDbServer Server => _server ?? throw new InvalidOperationException($"{MariaDbServer.Program} is not installed.");

    public async Task InitializeAsync()
    {
        if (HeaderFraming.Tests.Infrastructure.ServerProcess.Find(MariaDbServer.Program) != null)
        {
            _server = await MariaDbServer.StartAsync();
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
