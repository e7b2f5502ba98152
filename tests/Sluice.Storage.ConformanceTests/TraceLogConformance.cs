using Sluice.Ops;
using Sluice.Storage.Redis;
using Sluice.Storage.Sqlite;

namespace Sluice.Storage.ConformanceTests;

/// <summary>One suite for every trace-log backend.</summary>
public abstract class TraceLogConformance : StoreConformance
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);

    private protected abstract ITraceLog Create();

    [Fact]
    public async Task Search_MatchesKindTraceIdOrGeneration_WithinTheRange_NewestFirst_Paged()
    {
        var log = Create();
        await log.AppendAsync(new TraceEvent(0, T0, "sse_resume_failed", "t1", "acme", null, "a"), default);
        await log.AppendAsync(new TraceEvent(0, T0.AddMinutes(1), "provider_timeout", "t2", "acme", "gen_1", "b"), default);
        await log.AppendAsync(new TraceEvent(0, T0.AddMinutes(2), "sse_resume_failed", "t3", "acme", null, "c"), default);

        Assert.Equal(["c", "a"], (await log.SearchAsync("sse_resume_failed", null, T0, T0.AddHours(1), 0, 10, default)).Select(e => e.Detail));
        Assert.Equal(["b"], (await log.SearchAsync("gen_1", null, T0, T0.AddHours(1), 0, 10, default)).Select(e => e.Detail));
        Assert.Equal(["b"], (await log.SearchAsync("t2", null, T0, T0.AddHours(1), 0, 10, default)).Select(e => e.Detail));
        Assert.Equal(["a"], (await log.SearchAsync("sse_resume_failed", null, T0, T0.AddMinutes(2), 0, 10, default)).Select(e => e.Detail));
        Assert.Equal(["b"], (await log.SearchAsync(null, null, T0, T0.AddHours(1), 1, 1, default)).Select(e => e.Detail));
        Assert.Empty(await log.SearchAsync("nothing", null, T0, T0.AddHours(1), 0, 10, default));
    }

    [Fact]
    public async Task KeywordPages_AreContiguousAcrossFields_EachEventOnce_AndTiesKeepIdOrder()
    {
        var log = Create();
        for (var i = 0; i < 25; i++)
        {
            // Every third event carries the keyword as its trace id and as its kind: it must still come once.
            var kind = i % 3 == 0 ? "hot" : "other";
            var trace = i % 3 == 0 || i % 5 == 0 ? "hot" : "t" + i;
            var generation = i % 7 == 0 ? "hot" : null;
            await log.AppendAsync(new TraceEvent(0, T0.AddSeconds(i / 2), kind, trace, "acme", generation, "e" + i), default);
        }

        var expected = Enumerable.Range(0, 25).Where(i => i % 3 == 0 || i % 5 == 0 || i % 7 == 0).Reverse().Select(i => "e" + i).ToList();
        var pages = new List<string>();
        for (var page = 0; page < 5; page++)
        {
            pages.AddRange((await log.SearchAsync("hot", null, T0, T0.AddHours(1), page, 3, default)).Select(e => e.Detail));
        }

        Assert.Equal(expected, pages);
    }

    [Fact]
    public async Task Search_ForATenant_HasOnlyItsEvents_WithAndWithoutKeyword()
    {
        var log = Create();
        for (var i = 0; i < 12; i++)
        {
            var tenant = i % 3 == 0 ? "acme" : "globex";
            await log.AppendAsync(new TraceEvent(0, T0.AddMinutes(i), i % 2 == 0 ? "sse_resume_failed" : "provider_timeout", "t" + i, tenant, "gen_" + (i / 4), "e" + i), default);
        }

        Assert.Equal(["e9", "e6", "e3", "e0"], (await log.SearchAsync(null, "acme", T0, T0.AddHours(1), 0, 10, default)).Select(e => e.Detail));
        Assert.Equal(["e6", "e0"], (await log.SearchAsync("sse_resume_failed", "acme", T0, T0.AddHours(1), 0, 10, default)).Select(e => e.Detail));
        Assert.Equal(["e3"], (await log.SearchAsync("gen_0", "acme", T0.AddMinutes(1), T0.AddHours(1), 0, 10, default)).Select(e => e.Detail));
        Assert.Empty(await log.SearchAsync("t1", "acme", T0, T0.AddHours(1), 0, 10, default));
        Assert.Equal(["e10", "e8"], (await log.SearchAsync("sse_resume_failed", "globex", T0, T0.AddHours(1), 0, 2, default)).Select(e => e.Detail));
    }

    [Fact]
    public async Task RemoveBefore_DropsOnlyOlderEvents()
    {
        var log = Create();
        await log.AppendAsync(new TraceEvent(0, T0, "k", null, null, null, "old"), default);
        await log.AppendAsync(new TraceEvent(0, T0.AddDays(2), "k", null, null, null, "new"), default);

        Assert.Equal(1, await log.RemoveBeforeAsync(T0.AddDays(1), default));
        Assert.Equal(["new"], (await log.SearchAsync("k", null, T0.AddYears(-1), T0.AddYears(1), 0, 10, default)).Select(e => e.Detail));
    }
}

public sealed class MemoryTraceLogConformance : TraceLogConformance
{
    private protected override ITraceLog Create() => new MemoryTraceLog();
}

public sealed class SqliteTraceLogConformance : TraceLogConformance
{
    private protected override ITraceLog Create() => new SqliteTraceLog(OpenSqlite("sluice-trace-"));
}

[Collection(RedisCollection.Name)]
public sealed class RedisTraceLogConformance(RedisFixture redis) : TraceLogConformance
{
    private protected override ITraceLog Create() => new RedisTraceLog(OpenRedis(redis));
}
