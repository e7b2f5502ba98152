using Microsoft.Extensions.Logging.Abstractions;
using Sluice.Storage.Redis;
using Sluice.Testing;

namespace Sluice.Storage.ConformanceTests;

/// <summary>One real redis-server for every Redis suite (they run one after another in this collection).</summary>
public sealed class RedisFixture : IAsyncLifetime
{
    public RedisServer Server { get; private set; } = null!;

    public async Task InitializeAsync() => Server = await RedisServer.StartAsync();

    public async Task DisposeAsync() => await Server.DisposeAsync();
}

[CollectionDefinition(Name)]
public sealed class RedisCollection : ICollectionFixture<RedisFixture>
{
    public const string Name = "redis";
}

/// <summary>Connections of one test: its own key prefix on the shared server, so tests see nothing of each other.</summary>
internal sealed class RedisTestConnections(RedisFixture fixture) : IAsyncDisposable
{
    private readonly List<RedisConnection> _connections = [];

    public string Prefix { get; } = "t" + Guid.NewGuid().ToString("N")[..12];

    public RedisServer Server => fixture.Server;

    /// <summary>A new multiplexer over the same keys: another node, or this one after a restart.</summary>
    public RedisConnection Open()
    {
        var connection = new RedisConnection(fixture.Server.ConnectionString, Prefix, NullLogger<RedisConnection>.Instance);
        _connections.Add(connection);
        return connection;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var connection in _connections)
        {
            await connection.DisposeAsync();
        }
    }
}
