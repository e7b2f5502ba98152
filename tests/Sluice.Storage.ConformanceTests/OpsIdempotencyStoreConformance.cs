using Sluice.Ops;
using Sluice.Storage.Redis;
using Sluice.Storage.Sqlite;

namespace Sluice.Storage.ConformanceTests;

/// <summary>One suite for every ops Idempotency-Key backend: claims are atomic, replays are byte for byte.</summary>
public abstract class OpsIdempotencyStoreConformance : StoreConformance
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly OpsStoredResponse Response = new(200, "application/json; charset=utf-8", "{\"ok\":true}\n"u8.ToArray());

    private protected abstract IOpsIdempotencyStore Create();

    private static ValueTask<OpsIdempotencyClaim> ClaimAsync(IOpsIdempotencyStore store, string hash, DateTimeOffset now) =>
        store.ClaimAsync("key_admin|/v1/ops/rollbacks|k1", hash, now, now.AddHours(-24), now.AddMinutes(-1), default);

    [Fact]
    public async Task FirstClaimRuns_TheSameRequestAgainIsInProgress_ThenReplaysTheStoredResponse()
    {
        var store = Create();
        Assert.Equal(OpsIdempotencyOutcome.Claimed, (await ClaimAsync(store, "h1", T0)).Outcome);
        Assert.Equal(OpsIdempotencyOutcome.InProgress, (await ClaimAsync(store, "h1", T0.AddSeconds(1))).Outcome);

        await store.CompleteAsync("key_admin|/v1/ops/rollbacks|k1", Response, default);
        var replay = await ClaimAsync(store, "h1", T0.AddSeconds(2));

        Assert.Equal(OpsIdempotencyOutcome.Completed, replay.Outcome);
        Assert.Equal(Response.Status, replay.Response!.Status);
        Assert.Equal(Response.ContentType, replay.Response.ContentType);
        Assert.Equal(Response.Body, replay.Response.Body);
    }

    [Fact]
    public async Task AnotherBody_IsAConflict_WhetherRunningOrDone()
    {
        var store = Create();
        await ClaimAsync(store, "h1", T0);
        Assert.Equal(OpsIdempotencyOutcome.Conflict, (await ClaimAsync(store, "h2", T0)).Outcome);
        await store.CompleteAsync("key_admin|/v1/ops/rollbacks|k1", Response, default);
        Assert.Equal(OpsIdempotencyOutcome.Conflict, (await ClaimAsync(store, "h2", T0)).Outcome);
    }

    [Fact]
    public async Task ConcurrentClaims_OnlyOneRuns()
    {
        var store = Create();
        var claims = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => ClaimAsync(store, "h1", T0).AsTask()));
        Assert.Single(claims, c => c.Outcome == OpsIdempotencyOutcome.Claimed);
        Assert.All(claims.Where(c => c.Outcome != OpsIdempotencyOutcome.Claimed), c => Assert.Equal(OpsIdempotencyOutcome.InProgress, c.Outcome));
    }

    [Fact]
    public async Task Release_FreesTheKey_ButNeverAStoredResponse()
    {
        var store = Create();
        await ClaimAsync(store, "h1", T0);
        await store.ReleaseAsync("key_admin|/v1/ops/rollbacks|k1", default);
        Assert.Equal(OpsIdempotencyOutcome.Claimed, (await ClaimAsync(store, "h2", T0)).Outcome);

        await store.CompleteAsync("key_admin|/v1/ops/rollbacks|k1", Response, default);
        await store.ReleaseAsync("key_admin|/v1/ops/rollbacks|k1", default);
        Assert.Equal(OpsIdempotencyOutcome.Completed, (await ClaimAsync(store, "h2", T0)).Outcome);
    }

    [Fact]
    public async Task AStaleUnfinishedClaim_MayRunAgain_AndAnExpiredKeyIsFree()
    {
        var store = Create();
        await ClaimAsync(store, "h1", T0);
        Assert.Equal(OpsIdempotencyOutcome.Claimed, (await ClaimAsync(store, "h1", T0.AddMinutes(2))).Outcome);
        Assert.Equal(OpsIdempotencyOutcome.Conflict, (await ClaimAsync(store, "h2", T0.AddMinutes(4))).Outcome);

        await store.CompleteAsync("key_admin|/v1/ops/rollbacks|k1", Response, default);
        Assert.Equal(OpsIdempotencyOutcome.Claimed, (await ClaimAsync(store, "h2", T0.AddHours(25))).Outcome);
    }

    [Fact]
    public async Task RemoveBefore_DropsOldKeys()
    {
        var store = Create();
        await store.ClaimAsync("old", "h", T0, T0.AddHours(-24), T0.AddMinutes(-1), default);
        await store.ClaimAsync("new", "h", T0.AddHours(2), T0.AddHours(-22), T0.AddHours(2).AddMinutes(-1), default);

        Assert.Equal(1, await store.RemoveBeforeAsync(T0.AddHours(1), default));
        Assert.Equal(OpsIdempotencyOutcome.Claimed, (await store.ClaimAsync("old", "other", T0.AddHours(2), T0.AddHours(-22), T0.AddHours(2).AddMinutes(-1), default)).Outcome);
        Assert.Equal(OpsIdempotencyOutcome.Conflict, (await store.ClaimAsync("new", "other", T0.AddHours(2), T0.AddHours(-22), T0.AddHours(2).AddMinutes(-1), default)).Outcome);
    }
}

public sealed class MemoryOpsIdempotencyStoreConformance : OpsIdempotencyStoreConformance
{
    private protected override IOpsIdempotencyStore Create() => new MemoryOpsIdempotencyStore();
}

public sealed class SqliteOpsIdempotencyStoreConformance : OpsIdempotencyStoreConformance
{
    private protected override IOpsIdempotencyStore Create() => new SqliteOpsIdempotencyStore(OpenSqlite("sluice-ops-idem-"));
}

[Collection(RedisCollection.Name)]
public sealed class RedisOpsIdempotencyStoreConformance(RedisFixture redis) : OpsIdempotencyStoreConformance
{
    private protected override IOpsIdempotencyStore Create() => new RedisOpsIdempotencyStore(OpenRedis(redis));
}
