using Microsoft.Extensions.Logging.Abstractions;
using Sluice.Ops;
using Sluice.Storage.Sqlite;

namespace Sluice.Storage.ConformanceTests;

/// <summary>One suite for every trace-log backend.</summary>
public abstract class TraceLogConformance
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);

    protected abstract ITraceLog Create();

    [Fact]
    public async Task Search_MatchesKindTraceIdOrGeneration_WithinTheRange_NewestFirst_Paged()
    {
        var log = Create();
        await log.AppendAsync(new TraceEvent(0, T0, "sse_resume_failed", "t1", "acme", null, "a"), default);
        await log.AppendAsync(new TraceEvent(0, T0.AddMinutes(1), "provider_timeout", "t2", "acme", "gen_1", "b"), default);
        await log.AppendAsync(new TraceEvent(0, T0.AddMinutes(2), "sse_resume_failed", "t3", "acme", null, "c"), default);

        Assert.Equal(["c", "a"], (await log.SearchAsync("sse_resume_failed", T0, T0.AddHours(1), 0, 10, default)).Select(e => e.Detail));
        Assert.Equal(["b"], (await log.SearchAsync("gen_1", T0, T0.AddHours(1), 0, 10, default)).Select(e => e.Detail));
        Assert.Equal(["b"], (await log.SearchAsync("t2", T0, T0.AddHours(1), 0, 10, default)).Select(e => e.Detail));
        Assert.Equal(["a"], (await log.SearchAsync("sse_resume_failed", T0, T0.AddMinutes(2), 0, 10, default)).Select(e => e.Detail));
        Assert.Equal(["b"], (await log.SearchAsync(null, T0, T0.AddHours(1), 1, 1, default)).Select(e => e.Detail));
        Assert.Empty(await log.SearchAsync("nothing", T0, T0.AddHours(1), 0, 10, default));
    }

    [Fact]
    public async Task RemoveBefore_DropsOnlyOlderEvents()
    {
        var log = Create();
        await log.AppendAsync(new TraceEvent(0, T0, "k", null, null, null, "old"), default);
        await log.AppendAsync(new TraceEvent(0, T0.AddDays(2), "k", null, null, null, "new"), default);

        Assert.Equal(1, await log.RemoveBeforeAsync(T0.AddDays(1), default));
        Assert.Equal(["new"], (await log.SearchAsync("k", T0.AddYears(-1), T0.AddYears(1), 0, 10, default)).Select(e => e.Detail));
    }
}

public sealed class MemoryTraceLogConformance : TraceLogConformance
{
    protected override ITraceLog Create() => new MemoryTraceLog();
}

public sealed class SqliteTraceLogConformance : TraceLogConformance, IAsyncLifetime
{
    private readonly List<SqliteDatabase> _databases = [];

    protected override ITraceLog Create()
    {
        var db = new SqliteDatabase(Path.Combine(Directory.CreateTempSubdirectory("sluice-trace-").FullName, "sluice.db"), "normal", NullLogger<SqliteDatabase>.Instance);
        _databases.Add(db);
        return new SqliteTraceLog(db);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var db in _databases)
        {
            await db.DisposeAsync();
        }
    }
}

/// <summary>One suite for every ops-metrics store.</summary>
public abstract class OpsMetricsStoreConformance
{
    private static readonly DateTimeOffset H0 = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);

    protected abstract IOpsMetricsStore Create();

    private static OpsMetricsRow Row(int hour, string tenant, long requests) =>
        new(H0.AddHours(hour), tenant, "web", requests, new Dictionary<string, long> { ["429"] = 2 }, 3, 4, 1, 12.5, 80, 99);

    [Fact]
    public async Task Upsert_ReplacesTheRowOfAnHour_RecentReturnsNewestFirst_RemoveBeforeDropsOldHours()
    {
        var store = Create();
        await store.UpsertAsync([Row(0, "acme", 1), Row(1, "acme", 5)], default);
        await store.UpsertAsync([Row(1, "acme", 7), Row(1, "globex", 2)], default);

        var rows = await store.RecentAsync(10, default);

        Assert.Equal([(1, "acme", 7L), (1, "globex", 2L), (0, "acme", 1L)], rows.Select(r => ((int)(r.Hour - H0).TotalHours, r.Tenant, r.Requests)));
        Assert.Equal(2, rows[0].ErrorsByStatus["429"]);
        Assert.Equal(12.5, rows[0].TtftP95Ms);
        Assert.Equal(1, await store.RemoveBeforeAsync(H0.AddHours(1), default));
        Assert.Equal(2, (await store.RecentAsync(10, default)).Count);
    }
}

public sealed class MemoryOpsMetricsStoreConformance : OpsMetricsStoreConformance
{
    protected override IOpsMetricsStore Create() => new MemoryOpsMetricsStore();
}

public sealed class SqliteOpsMetricsStoreConformance : OpsMetricsStoreConformance, IAsyncLifetime
{
    private readonly List<SqliteDatabase> _databases = [];

    protected override IOpsMetricsStore Create()
    {
        var db = new SqliteDatabase(Path.Combine(Directory.CreateTempSubdirectory("sluice-opsm-").FullName, "sluice.db"), "normal", NullLogger<SqliteDatabase>.Instance);
        _databases.Add(db);
        return new SqliteOpsMetricsStore(db);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var db in _databases)
        {
            await db.DisposeAsync();
        }
    }
}
