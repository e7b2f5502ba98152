using System.Globalization;
using System.Text.Json;
using Sluice.Ops;
using StackExchange.Redis;

namespace Sluice.Storage.Redis;

/// <summary>
/// Hourly ops rows, added up across the cluster: each (hour, tenant, channel) is a hash holding one JSON row per
/// process that served it (a process' row is its running total for the hour, so its upsert replaces only its own
/// field and nodes never overwrite each other); a read sums the counters and takes the highest p95 of the
/// processes (p95s cannot be added; the highest is the honest bound). Sorted sets scored by minus the hour, overall
/// and per tenant, give the read order: newest hour first, then tenant and channel as members.
/// </summary>
internal sealed class RedisOpsMetricsStore(RedisConnection redis) : IOpsMetricsStore
{
    private const int RemoveBatch = 1000;

    private readonly string _rowPrefix = redis.Keys.Named("{opsrows}:row:");

    /// <summary>This process' field in every row it writes: a restarted node starts a new running total, so a new field.</summary>
    private readonly string _process = Guid.NewGuid().ToString("N");
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
            writes.Add(batch.HashSetAsync(Row(field), _process, JsonSerializer.Serialize(row, StoreJson.Default.OpsMetricsRow)));
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

        // Issued together: the multiplexer pipelines them.
        var reads = fields.Select(f => db.HashValuesAsync(Row(f))).ToArray();
        var rows = new List<OpsMetricsRow>(fields.Length);
        foreach (var read in reads)
        {
            OpsMetricsRow? sum = null;
            foreach (var value in await read)
            {
                if (JsonSerializer.Deserialize((string)value!, StoreJson.Default.OpsMetricsRow) is { } part)
                {
                    sum = sum is null ? part : Add(sum, part);
                }
            }

            if (sum is not null)
            {
                rows.Add(sum);
            }
        }

        return [.. rows.OrderByDescending(r => r.Hour).ThenBy(r => r.Tenant, StringComparer.Ordinal).ThenBy(r => r.Channel, StringComparer.Ordinal)];
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

            await db.KeyDeleteAsync([.. fields.Select(f => Row(f))]);
            removed += (int)await db.SortedSetRemoveAsync(_byHour, fields);
        }
    }

    /// <summary>Tenant, channel and hour, tab-separated (a tenant holds no tab): rows of one hour order by tenant, then channel.</summary>
    private static string Field(OpsMetricsRow row) =>
        row.Tenant + "\t" + row.Channel + "\t" + row.Hour.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture);

    private static string TenantOf(RedisValue field) => ((string)field!)[..((string)field!).IndexOf('\t', StringComparison.Ordinal)];

    private RedisKey ByTenant(string tenant) => _tenantPrefix + tenant;

    private RedisKey Row(RedisValue field) => _rowPrefix + (string)field!;

    /// <summary>Two processes' rows of one hour, tenant and channel as one.</summary>
    internal static OpsMetricsRow Add(OpsMetricsRow a, OpsMetricsRow b)
    {
        var errors = new Dictionary<string, long>(a.ErrorsByStatus, StringComparer.Ordinal);
        foreach (var (status, count) in b.ErrorsByStatus)
        {
            errors[status] = errors.GetValueOrDefault(status) + count;
        }

        return a with
        {
            Requests = a.Requests + b.Requests,
            ErrorsByStatus = errors,
            SseConnections = a.SseConnections + b.SseConnections,
            ResumeAttempts = a.ResumeAttempts + b.ResumeAttempts,
            ResumeFailures = a.ResumeFailures + b.ResumeFailures,
            TtftP95Ms = Max(a.TtftP95Ms, b.TtftP95Ms),
            E2eP95Ms = Max(a.E2eP95Ms, b.E2eP95Ms),
            OutputTokens = a.OutputTokens + b.OutputTokens,
        };

        static double? Max(double? x, double? y) => x is null ? y : y is null ? x : Math.Max(x.Value, y.Value);
    }
}
