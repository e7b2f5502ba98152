using Microsoft.Extensions.Logging.Abstractions;
using Sluice.Storage.Redis;
using Sluice.Storage.Sqlite;
using Sluice.Tenancy;

namespace Sluice.Storage.ConformanceTests;

/// <summary>One suite for every <see cref="IKeyStore"/> backend.</summary>
public abstract class KeyStoreConformance : IAsyncLifetime
{
    private protected IKeyStore Store { get; set; } = null!;

    public abstract Task InitializeAsync();

    public virtual Task DisposeAsync() => Task.CompletedTask;

    private static ApiKeyRecord Key(string id, string tenant, string hash, int minute) =>
        new(id, tenant, Roles.Subscribe | Roles.Publish, "n-" + id, hash, new DateTimeOffset(2026, 1, 1, 0, minute, 0, TimeSpan.Zero), null, null);

    [Fact]
    public async Task Add_ThenFindByHashAndId_ReturnsTheSameRecord()
    {
        var key = Key("key_1", "acme", "h1", 0) with { ExpiresAt = new DateTimeOffset(2027, 1, 1, 0, 0, 0, TimeSpan.Zero) };
        Assert.False(await Store.AnyAsync(default));

        await Store.AddAsync(key, default);

        Assert.True(await Store.AnyAsync(default));
        Assert.Equal(key, await Store.FindByHashAsync("h1", default));
        Assert.Equal(key, await Store.FindByIdAsync("key_1", default));
        Assert.Null(await Store.FindByHashAsync("nope", default));
    }

    [Fact]
    public async Task List_ByTenantOrAll_OldestFirst()
    {
        await Store.AddAsync(Key("key_b", "acme", "hb", 2), default);
        await Store.AddAsync(Key("key_a", "acme", "ha", 1), default);
        await Store.AddAsync(Key("key_c", "globex", "hc", 0), default);

        Assert.Equal(["key_a", "key_b"], (await Store.ListAsync("acme", default)).Select(k => k.Id));
        Assert.Equal(["key_c", "key_a", "key_b"], (await Store.ListAsync(null, default)).Select(k => k.Id));
    }

    [Fact]
    public async Task Revoke_MarksOnce_UnknownIsFalse()
    {
        await Store.AddAsync(Key("key_1", "acme", "h1", 0), default);
        var at = new DateTimeOffset(2026, 2, 1, 0, 0, 0, TimeSpan.Zero);

        Assert.True(await Store.RevokeAsync("key_1", at, default));
        Assert.False(await Store.RevokeAsync("key_1", at, default));
        Assert.False(await Store.RevokeAsync("key_x", at, default));
        Assert.Equal(at, (await Store.FindByHashAsync("h1", default))!.RevokedAt);
    }

    [Fact]
    public async Task Secret_FirstWriterWins()
    {
        var first = await Store.GetOrAddSecretAsync("s", () => [1, 2, 3], default);
        var second = await Store.GetOrAddSecretAsync("s", () => [9, 9, 9], default);

        Assert.Equal(new byte[] { 1, 2, 3 }, first);
        Assert.Equal(first, second);
    }
}

public sealed class MemoryKeyStoreConformance : KeyStoreConformance
{
    public override Task InitializeAsync()
    {
        Store = new MemoryKeyStore();
        return Task.CompletedTask;
    }
}

public sealed class SqliteKeyStoreConformance : KeyStoreConformance
{
    private SqliteDatabase _db = null!;

    public override Task InitializeAsync()
    {
        _db = new SqliteDatabase(Path.Combine(Directory.CreateTempSubdirectory("sluice-keys-").FullName, "sluice.db"), "normal", NullLogger<SqliteDatabase>.Instance);
        Store = new SqliteKeyStore(_db);
        return Task.CompletedTask;
    }

    public override async Task DisposeAsync() => await _db.DisposeAsync();
}

[Collection(RedisCollection.Name)]
public sealed class RedisKeyStoreConformance(RedisFixture redis) : KeyStoreConformance
{
    private readonly RedisTestConnections _connections = new(redis);

    public override Task InitializeAsync()
    {
        Store = new RedisKeyStore(_connections.Open());
        return Task.CompletedTask;
    }

    public override async Task DisposeAsync() => await _connections.DisposeAsync();
}
