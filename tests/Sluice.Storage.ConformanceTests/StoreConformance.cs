using Microsoft.Extensions.Logging.Abstractions;
using Sluice.Storage.Sqlite;

namespace Sluice.Storage.ConformanceTests;

/// <summary>Base of the small store suites: SQLite backends open fresh databases here, closed with the test.</summary>
public abstract class StoreConformance : IAsyncLifetime
{
    private readonly List<SqliteDatabase> _databases = [];
    private readonly List<RedisTestConnections> _redis = [];

    private protected SqliteDatabase OpenSqlite(string prefix)
    {
        var db = new SqliteDatabase(Path.Combine(Directory.CreateTempSubdirectory(prefix).FullName, "sluice.db"), "normal", NullLogger<SqliteDatabase>.Instance);
        _databases.Add(db);
        return db;
    }

    /// <summary>A Redis store's connection under a key prefix of this test's own.</summary>
    private protected Sluice.Storage.Redis.RedisConnection OpenRedis(RedisFixture fixture)
    {
        var connections = new RedisTestConnections(fixture);
        _redis.Add(connections);
        return connections.Open();
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var db in _databases)
        {
            await db.DisposeAsync();
        }

        foreach (var connections in _redis)
        {
            await connections.DisposeAsync();
        }
    }
}
