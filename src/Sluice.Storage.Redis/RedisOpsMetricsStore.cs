using System.Globalization;
using System.Text.Json;
using Sluice.Ops;
using StackExchange.Redis;

namespace Sluice.Storage.Redis;

/// <summary>
/// Hourly ops rows: a hash (hour, tenant, channel) → JSON, and sorted sets scored by minus the hour, overall and per
/// tenant, so that ascending order is the read order: newest hour first, then tenant and channel as members. An
/// upsert replaces the row, as on SQLite; adding up several nodes' rows is the many-nodes issue's.
/// </summary>
internal sealed class RedisOpsMetricsStore(RedisConnection redis) : IOpsMetricsStore
{
    private const int RemoveBatch = 1000;

    private readonly RedisKey _rows = redis.Keys.Named("{opsrows}:rows");
    private readonly RedisKey _byHour = redis.Keys.Named("{opsrows}:by_hour");
    private readonly string _tenantPrefix = redis.Keys.Named("{opsrows}:by_hour:");

    public async ValueTask UpsertAsync(IReadOnlyList<OpsMetricsRow> rows, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var db = await redis.DatabaseAsync();
        var batch = db.CreateBatch();
        var writes = new List<Task>(rows.Count * 3);
        foreach (var row in rows)
        {
            var field = Field(row);
            var hour = -row.Hour.ToUnixTimeMilliseconds();
            writes.Add(batch.HashSetAsync(_rows, field, JsonSerializer.Serialize(row, StoreJson.Default.OpsMetricsRow)));
            writes.Add(batch.SortedSetAddAsync(_byHour, field, hour));
            writes.Add(batch.SortedSetAddAsync(ByTenant(row.Tenant), field, hour));
        }

        batch.Execute();
        await Task.WhenAll(writes);
    }

    public async ValueTask<IReadOnlyList<OpsMetricsRow>> RecentAsync(int limit, string? tenant, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (limit <= 0)
        {
            return [];
        }

        var db = await redis.DatabaseAsync();
        var fields = await db.SortedSetRangeByRankAsync(tenant is null ? _byHour : ByTenant(tenant), 0, limit - 1);
        if (fields.Length == 0)
        {
            return [];
        }

        var values = await db.HashGetAsync(_rows, fields);
        return [.. values.Where(v => !v.IsNull).Select(v => JsonSerializer.Deserialize((string)v!, StoreJson.Default.OpsMetricsRow)!)
            .OrderByDescending(r => r.Hour).ThenBy(r => r.Tenant, StringComparer.Ordinal).ThenBy(r => r.Channel, StringComparer.Ordinal)];
    }

    public async ValueTask<int> RemoveBeforeAsync(DateTimeOffset cutoff, CancellationToken cancellationToken)
    {
        var db = await redis.DatabaseAsync();
        var removed = 0;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var fields = await db.SortedSetRangeByScoreAsync(_byHour, -cutoff.ToUnixTimeMilliseconds(), double.PositiveInfinity, Exclude.Start, Order.Ascending, 0, RemoveBatch);
            if (fields.Length == 0)
            {
                return removed;
            }

            foreach (var field in fields)
            {
                await db.SortedSetRemoveAsync(ByTenant(TenantOf(field)), field);
            }

            await db.HashDeleteAsync(_rows, fields);
            removed += (int)await db.SortedSetRemoveAsync(_byHour, fields);
        }
    }

    /// <summary>Tenant, channel and hour, tab-separated (a tenant holds no tab): rows of one hour order by tenant, then channel.</summary>
    private static string Field(OpsMetricsRow row) =>
        row.Tenant + "\t" + row.Channel + "\t" + row.Hour.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture);

    private static string TenantOf(RedisValue field) => ((string)field!)[..((string)field!).IndexOf('\t', StringComparison.Ordinal)];

    private RedisKey ByTenant(string tenant) => _tenantPrefix + tenant;
}
