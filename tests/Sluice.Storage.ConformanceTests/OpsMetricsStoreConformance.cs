using Sluice.Ops;
using Sluice.Storage.Redis;
using Sluice.Storage.Sqlite;

namespace Sluice.Storage.ConformanceTests;

/// <summary>One suite for every ops-metrics store.</summary>
public abstract class OpsMetricsStoreConformance : StoreConformance
{
    private protected static readonly DateTimeOffset H0 = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);

    private protected abstract IOpsMetricsStore Create();

    private protected static OpsMetricsRow Row(int hour, string tenant, long requests) =>
        new(H0.AddHours(hour), tenant, "web", requests, new Dictionary<string, long> { ["429"] = 2 }, 3, 4, 1, 12.5, 80, 99);

    [Fact]
    public async Task Upsert_ReplacesTheRowOfAnHour_RecentReturnsNewestFirst_RemoveBeforeDropsOldHours()
    {
        var store = Create();
        await store.UpsertAsync([Row(0, "acme", 1), Row(1, "acme", 5)], default);
        await store.UpsertAsync([Row(1, "acme", 7), Row(1, "globex", 2)], default);

        var rows = await store.RecentAsync(10, null, default);

        Assert.Equal([(1, "acme", 7L), (1, "globex", 2L), (0, "acme", 1L)], rows.Select(r => ((int)(r.Hour - H0).TotalHours, r.Tenant, r.Requests)));
        Assert.Equal(2, rows[0].ErrorsByStatus["429"]);
        Assert.Equal(12.5, rows[0].TtftP95Ms);
        Assert.Equal(1, await store.RemoveBeforeAsync(H0.AddHours(1), default));
        Assert.Equal(2, (await store.RecentAsync(10, null, default)).Count);
    }

    [Fact]
    public async Task Recent_ForATenant_HasOnlyItsRows_NewestFirst_UpToTheLimit()
    {
        var store = Create();
        await store.UpsertAsync([Row(0, "acme", 1), Row(0, "globex", 9), Row(1, "acme", 2), Row(1, "globex", 8), Row(2, "acme", 3)], default);

        Assert.Equal([3L, 2L, 1L], (await store.RecentAsync(10, "acme", default)).Select(r => r.Requests));
        Assert.Equal([8L], (await store.RecentAsync(1, "globex", default)).Select(r => r.Requests));
        Assert.Empty(await store.RecentAsync(10, "nobody", default));
    }
}

public sealed class MemoryOpsMetricsStoreConformance : OpsMetricsStoreConformance
{
    private protected override IOpsMetricsStore Create() => new MemoryOpsMetricsStore();
}

public sealed class SqliteOpsMetricsStoreConformance : OpsMetricsStoreConformance
{
    private protected override IOpsMetricsStore Create() => new SqliteOpsMetricsStore(OpenSqlite("sluice-opsm-"));
}

[Collection(RedisCollection.Name)]
public sealed class RedisOpsMetricsStoreConformance(RedisFixture redis) : OpsMetricsStoreConformance
{
    private protected override IOpsMetricsStore Create() => new RedisOpsMetricsStore(OpenRedis(redis));

    [Fact]
    public async Task TwoNodesRowsOfOneHour_AddUp_WithTheHigherP95_AndNeitherOverwritesTheOther()
    {
        await using var connections = new RedisTestConnections(redis);
        var a = new RedisOpsMetricsStore(connections.Open());
        var b = new RedisOpsMetricsStore(connections.Open());
        await a.UpsertAsync([Row(0, "acme", 5)], default);
        await b.UpsertAsync([Row(0, "acme", 3) with { TtftP95Ms = 40, ErrorsByStatus = new Dictionary<string, long> { ["429"] = 1, ["503"] = 4 } }], default);
        await a.UpsertAsync([Row(0, "acme", 6)], default);

        var row = Assert.Single(await b.RecentAsync(10, "acme", default));

        Assert.Equal(9, row.Requests);
        Assert.Equal(new Dictionary<string, long> { ["429"] = 3, ["503"] = 4 }, row.ErrorsByStatus);
        Assert.Equal((6L, 8L, 2L, 198L), (row.SseConnections, row.ResumeAttempts, row.ResumeFailures, row.OutputTokens));
        Assert.Equal(40, row.TtftP95Ms);
        Assert.Equal(1, await a.RemoveBeforeAsync(H0.AddHours(1), default));
        Assert.Empty(await b.RecentAsync(10, null, default));
    }
}
