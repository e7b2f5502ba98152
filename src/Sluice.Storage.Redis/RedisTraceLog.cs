using System.Text.Json;
using Sluice.Ops;
using StackExchange.Redis;

namespace Sluice.Storage.Redis;

/// <summary>
/// Trace events by time (<see cref="RedisTimeIndex"/>), plus the indexes a search uses, each a sorted set by time:
/// per kind, trace id and generation id, each overall and per tenant, and per tenant alone. A search reads at most
/// one page's worth from each of three indexes, so its work is bounded by the page, not by the log.
/// </summary>
internal sealed class RedisTraceLog(RedisConnection redis) : ITraceLog
{
    private readonly RedisTimeIndex _index = new(redis.Keys.Named("{traces}:seq"), redis.Keys.Named("{traces}:events"), redis.Keys.Named("{traces}:by_time"));
    private readonly string _prefix = redis.Keys.Named("{traces}:");

    public async ValueTask AppendAsync(TraceEvent e, CancellationToken cancellationToken)
    {
        var db = await redis.DatabaseAsync();
        var stored = e with { Id = await _index.NextIdAsync(db) };
        var member = RedisTimeIndex.Member(stored.Id);
        var score = stored.At.ToUnixTimeMilliseconds();

        // One MULTI (every key shares the {traces} slot): a search never sees the event in one index and not another.
        var transaction = db.CreateTransaction();
        var writes = Indexes(stored).Select(index => (Task)transaction.SortedSetAddAsync(index, member, score)).ToList();
        writes.Add(_index.AddAsync(transaction, stored.Id, stored.At, JsonSerializer.Serialize(stored, StoreJson.Default.TraceEvent)));
        await transaction.ExecuteAsync();
        await Task.WhenAll(writes);
    }

    public async ValueTask<IReadOnlyList<TraceEvent>> SearchAsync(string? keyword, string? tenant, DateTimeOffset from, DateTimeOffset to, int page, int size, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var db = await redis.DatabaseAsync();
        var skip = (long)page * size;
        RedisValue[] members;
        if (string.IsNullOrEmpty(keyword))
        {
            members = await _index.RangeAsync(db, tenant is null ? _index.ByTime : Index("tenant", tenant, null), from, to, skip, size);
        }
        else
        {
            // The newest skip + size of each index, merged: the page cannot lie beyond them.
            var lists = await Task.WhenAll(new[] { "kind", "trace", "generation" }.Select(field =>
                db.SortedSetRangeByScoreWithScoresAsync(Index(field, keyword, tenant), from.ToUnixTimeMilliseconds(), to.ToUnixTimeMilliseconds(), Exclude.Stop, Order.Descending, 0, skip + size)));
            members = [.. lists.SelectMany(l => l).DistinctBy(e => e.Element)
                .OrderByDescending(e => e.Score).ThenByDescending(e => (string)e.Element!, StringComparer.Ordinal)
                .Skip((int)Math.Min(int.MaxValue, skip)).Take(size).Select(e => e.Element)];
        }

        return [.. (await _index.GetAsync(db, members)).Select(j => JsonSerializer.Deserialize(j, StoreJson.Default.TraceEvent)!)];
    }

    public async ValueTask<int> RemoveBeforeAsync(DateTimeOffset cutoff, CancellationToken cancellationToken)
    {
        var db = await redis.DatabaseAsync();
        return await _index.RemoveBeforeAsync(db, cutoff, json => Indexes(JsonSerializer.Deserialize(json, StoreJson.Default.TraceEvent)!), cancellationToken);
    }

    private IEnumerable<RedisKey> Indexes(TraceEvent e)
    {
        foreach (var (field, value) in new[] { ("kind", e.Kind), ("trace", e.TraceId), ("generation", e.GenerationId) })
        {
            if (value is not null)
            {
                yield return Index(field, value, null);
                if (e.Tenant is not null)
                {
                    yield return Index(field, value, e.Tenant);
                }
            }
        }

        if (e.Tenant is not null)
        {
            yield return Index("tenant", e.Tenant, null);
        }
    }

    private RedisKey Index(string field, string value, string? tenant) => $"{_prefix}{field}:{tenant ?? "*"}:{value}";
}
