using Sluice.Resilience;
using Sluice.Storage.Redis;
using Sluice.Storage.Sqlite;

namespace Sluice.Storage.ConformanceTests;

/// <summary>One suite for every kill-switch backend.</summary>
public abstract class KillSwitchStoreConformance : StoreConformance
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);

    private protected abstract IKillSwitchStore Create();

    [Fact]
    public async Task Set_IsReadBackUntilItExpires_ReplacedBySetAgain_RemovedByNull()
    {
        var store = Create();
        var openai = new KillSwitch(T0, T0.AddMinutes(15), "garbage output", "key_admin");
        await store.SetAsync("openai", openai, default);
        await store.SetAsync("anthropic", new KillSwitch(T0, T0.AddMinutes(1), null, "key_admin"), default);

        Assert.Equal(openai, (await store.ActiveAsync(T0.AddMinutes(5), default))["openai"]);
        Assert.Equal(["openai"], (await store.ActiveAsync(T0.AddMinutes(5), default)).Keys);

        var longer = openai with { ExpiresAt = T0.AddHours(1), Reason = "still bad" };
        await store.SetAsync("openai", longer, default);
        Assert.Equal(longer, (await store.ActiveAsync(T0.AddMinutes(30), default))["openai"]);

        await store.SetAsync("openai", null, default);
        Assert.Equal(["anthropic"], (await store.ActiveAsync(T0, default)).Keys);
        Assert.Empty(await store.ActiveAsync(T0.AddMinutes(2), default));
    }
}

public sealed class MemoryKillSwitchStoreConformance : KillSwitchStoreConformance
{
    private protected override IKillSwitchStore Create() => new MemoryKillSwitchStore();
}

public sealed class SqliteKillSwitchStoreConformance : KillSwitchStoreConformance
{
    private protected override IKillSwitchStore Create() => new SqliteKillSwitchStore(OpenSqlite("sluice-kill-"));
}

[Collection(RedisCollection.Name)]
public sealed class RedisKillSwitchStoreConformance(RedisFixture redis) : KillSwitchStoreConformance
{
    private protected override IKillSwitchStore Create() => new RedisKillSwitchStore(OpenRedis(redis));
}
