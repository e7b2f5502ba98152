using System.Text.Json;
using Sluice.Audit;

namespace Sluice.Storage.Redis;

/// <summary>The audit trail: ids from one counter, entries by time (<see cref="RedisTimeIndex"/>).</summary>
internal sealed class RedisAuditLog(RedisConnection redis) : IAuditLog
{
    private readonly RedisTimeIndex _index = new(redis.Keys.Named("{audit}:seq"), redis.Keys.Named("{audit}:entries"), redis.Keys.Named("{audit}:by_time"));

    public async ValueTask<AuditEntry> AppendAsync(AuditEntry entry, CancellationToken cancellationToken)
    {
        var db = await redis.DatabaseAsync();
        var stored = entry with { Id = await _index.NextIdAsync(db) };
        await _index.AddAsync(db, stored.Id, stored.At, JsonSerializer.Serialize(stored, StoreJson.Default.AuditEntry));
        return stored;
    }

    public async ValueTask<IReadOnlyList<AuditEntry>> QueryAsync(DateTimeOffset from, DateTimeOffset to, int page, int size, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var db = await redis.DatabaseAsync();
        var members = await _index.RangeAsync(db, _index.ByTime, from, to, (long)page * size, size);
        return [.. (await _index.GetAsync(db, members)).Select(j => JsonSerializer.Deserialize(j, StoreJson.Default.AuditEntry)!)];
    }

    public async ValueTask<int> RemoveBeforeAsync(DateTimeOffset cutoff, CancellationToken cancellationToken)
    {
        var db = await redis.DatabaseAsync();
        return await _index.RemoveBeforeAsync(db, cutoff, null, cancellationToken);
    }
}
