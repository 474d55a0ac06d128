namespace HeaderFraming.Protocols.Tests.Servers;

/// <summary>The tests that share one RabbitMQ node: <c>[Collection(RabbitMqCollection.Name)]</c> and a constructor taking
/// <see cref="RabbitMqFixture"/>.</summary>
[CollectionDefinition(Name)]
public sealed class RabbitMqCollection : ICollectionFixture<RabbitMqFixture>
{
    public const string Name = "RabbitMQ node";
}
