using Sluice.Audit;
using Sluice.Storage.Redis;
using Sluice.Storage.Sqlite;

namespace Sluice.Storage.ConformanceTests;

/// <summary>One suite for every audit-log backend.</summary>
public abstract class AuditLogConformance : StoreConformance
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);

    private protected abstract IAuditLog Create();

    private static AuditEntry Entry(int minute, string action) =>
        new(0, T0.AddMinutes(minute), "key_admin", "default", action, "node", "because", "trace-" + minute, """{"a":1}""", """{"a":2}""");

    [Fact]
    public async Task Append_AssignsIncreasingIds_AndQueryReturnsNewestFirstWithinTheRange()
    {
        var log = Create();
        var first = await log.AppendAsync(Entry(0, "one"), default);
        var second = await log.AppendAsync(Entry(1, "two"), default);
        await log.AppendAsync(Entry(2, "three"), default);

        var entries = await log.QueryAsync(T0, T0.AddMinutes(2), 0, 10, default);

        Assert.True(second.Id > first.Id);
        Assert.Equal(["two", "one"], entries.Select(e => e.Action));
        Assert.Equal(Entry(1, "two") with { Id = second.Id }, entries[0]);
    }

    [Fact]
    public async Task Query_PagesBySize()
    {
        var log = Create();
        for (var i = 0; i < 5; i++)
        {
            await log.AppendAsync(Entry(i, "a" + i), default);
        }

        Assert.Equal(["a4", "a3"], (await log.QueryAsync(T0, T0.AddHours(1), 0, 2, default)).Select(e => e.Action));
        Assert.Equal(["a2", "a1"], (await log.QueryAsync(T0, T0.AddHours(1), 1, 2, default)).Select(e => e.Action));
        Assert.Equal(["a0"], (await log.QueryAsync(T0, T0.AddHours(1), 2, 2, default)).Select(e => e.Action));
        Assert.Empty(await log.QueryAsync(T0, T0.AddHours(1), int.MaxValue, 1000, default));
    }

    [Fact]
    public async Task RemoveBefore_DropsOnlyOlderEntries_AndIdsKeepIncreasing()
    {
        var log = Create();
        for (var i = 0; i < 4; i++)
        {
            await log.AppendAsync(Entry(i, "a" + i), default);
        }

        Assert.Equal(2, await log.RemoveBeforeAsync(T0.AddMinutes(2), default));
        var last = await log.AppendAsync(Entry(5, "a5"), default);

        var left = await log.QueryAsync(T0, T0.AddHours(1), 0, 10, default);
        Assert.Equal(["a5", "a3", "a2"], left.Select(e => e.Action));
        Assert.True(last.Id > left[1].Id);
    }
}

public sealed class MemoryAuditLogConformance : AuditLogConformance
{
    private protected override IAuditLog Create() => new MemoryAuditLog();
}

public sealed class SqliteAuditLogConformance : AuditLogConformance
{
    private protected override IAuditLog Create() => new SqliteAuditLog(OpenSqlite("sluice-audit-"));
}

[Collection(RedisCollection.Name)]
public sealed class RedisAuditLogConformance(RedisFixture redis) : AuditLogConformance
{
    private protected override IAuditLog Create() => new RedisAuditLog(OpenRedis(redis));
}
