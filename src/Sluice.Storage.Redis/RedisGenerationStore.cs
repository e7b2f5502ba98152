using System.Text.Json;
using Sluice.Generations;
using StackExchange.Redis;

namespace Sluice.Storage.Redis;

/// <summary>
/// Generation records (JSON per record) with a per-tenant sorted set by creation time for listing, a set of the
/// unfinished ones, a sorted set of finished ones by completion time for retention, and idempotency keys. A create
/// is one script, so that two nodes given the same <c>Idempotency-Key</c> create one generation.
/// </summary>
internal sealed class RedisGenerationStore(RedisConnection redis) : IGenerationStore
{
    /// <summary>Records looked at, at most, to fill one page of a list filtered by status.</summary>
    private const int MaxScannedForStatus = 10_000;

    private const int RemoveBatch = 500;

    // KEYS: record, tenant index, unfinished, finished, idempotency key, idempotency by time.
    // ARGV: json, id, created, member (tenant/id), finished (1/0), completed, claim (1/0), claim member, request hash, not before, record prefix.
    private const string CreateScript = """
        if ARGV[7] == '1' then
          local t = redis.call('HMGET', KEYS[5], 'hash', 'id', 'at')
          if t[1] and tonumber(t[3]) >= tonumber(ARGV[10]) then
            local existing = redis.call('GET', ARGV[11] .. t[2])
            if existing then return {0, existing, t[1]} end
          end
          redis.call('HSET', KEYS[5], 'hash', ARGV[9], 'id', ARGV[2], 'at', ARGV[3])
          redis.call('ZADD', KEYS[6], ARGV[3], ARGV[8])
        end
        redis.call('SET', KEYS[1], ARGV[1])
        redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
        if ARGV[5] == '1' then
          redis.call('ZADD', KEYS[4], ARGV[6], ARGV[4])
        else
          redis.call('SADD', KEYS[3], ARGV[4])
        end
        return {1}
        """;

    // KEYS: record, unfinished, finished. ARGV: json, member, finished (1/0), completed.
    // A finished record is final: a late writer (an owner whose generation a reaper ended meanwhile) changes nothing.
    private const string UpdateScript = """
        if redis.call('ZSCORE', KEYS[3], ARGV[2]) then return 0 end
        redis.call('SET', KEYS[1], ARGV[1])
        if ARGV[3] == '1' then
          redis.call('SREM', KEYS[2], ARGV[2])
          redis.call('ZADD', KEYS[3], ARGV[4], ARGV[2])
        else
          redis.call('SADD', KEYS[2], ARGV[2])
        end
        return 1
        """;

    private readonly string _prefix = redis.Keys.Named("{generations}:");
    private readonly RedisKey _unfinished = redis.Keys.Named("{generations}:unfinished");
    private readonly RedisKey _finished = redis.Keys.Named("{generations}:finished");
    private readonly RedisKey _claimsByTime = redis.Keys.Named("{generations}:claims_by_time");

    public async ValueTask<GenerationCreateResult> CreateAsync(GenerationRecord record, IdempotencyClaim? idempotency, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var db = await redis.DatabaseAsync();
        var finished = record.Status.IsFinished();
        var claimMember = idempotency is null ? "" : record.Tenant + "/" + idempotency.Key;
        var result = (RedisResult[])(await db.ScriptEvaluateAsync(CreateScript,
            [Record(record.Tenant, record.Id), TenantIndex(record.Tenant), _unfinished, _finished, Claim(claimMember), _claimsByTime],
            [
                Serialize(record), record.Id, record.CreatedAt.ToUnixTimeMilliseconds(), Member(record), finished ? 1 : 0,
                (record.CompletedAt ?? record.CreatedAt).ToUnixTimeMilliseconds(), idempotency is null ? 0 : 1, claimMember,
                idempotency?.RequestHash ?? "", (idempotency?.NotBefore ?? DateTimeOffset.MinValue).ToUnixTimeMilliseconds(), Record(record.Tenant, "").ToString(),
            ]))!;
        if ((int)result[0] == 1)
        {
            return new GenerationCreateResult(true, record, null);
        }

        return new GenerationCreateResult(false, Parse((string)result[1]!), (string?)result[2]);
    }

    public async ValueTask UpdateAsync(GenerationRecord record, CancellationToken cancellationToken)
    {
        var db = await redis.DatabaseAsync();
        await db.ScriptEvaluateAsync(UpdateScript, [Record(record.Tenant, record.Id), _unfinished, _finished],
            [Serialize(record), Member(record), record.Status.IsFinished() ? 1 : 0, (record.CompletedAt ?? record.CreatedAt).ToUnixTimeMilliseconds()]);
    }

    public async ValueTask<GenerationRecord?> GetAsync(string tenant, string id, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var db = await redis.DatabaseAsync();
        var json = await db.StringGetAsync(Record(tenant, id));
        return json.IsNull ? null : Parse(json!);
    }

    public async ValueTask<IReadOnlyList<GenerationRecord>> ListAsync(string tenant, GenerationStatus? status, int limit, CancellationToken cancellationToken)
    {
        var db = await redis.DatabaseAsync();
        var list = new List<GenerationRecord>(Math.Min(limit, 1000));
        var page = status is null ? limit : Math.Max(limit, 200);
        for (long start = 0; list.Count < limit && start < MaxScannedForStatus; start += page)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var ids = await db.SortedSetRangeByRankAsync(TenantIndex(tenant), start, start + page - 1, Order.Descending);
            if (ids.Length == 0)
            {
                break;
            }

            var values = await db.StringGetAsync([.. ids.Select(id => Record(tenant, id!))]);
            foreach (var value in values)
            {
                if (!value.IsNull && Parse(value!) is var record && (status is null || record.Status == status))
                {
                    list.Add(record);
                    if (list.Count == limit)
                    {
                        break;
                    }
                }
            }

            if (ids.Length < page)
            {
                break;
            }
        }

        return list;
    }

    public async ValueTask<IReadOnlyList<GenerationRecord>> ListUnfinishedAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var db = await redis.DatabaseAsync();
        var members = await db.SetMembersAsync(_unfinished);
        if (members.Length == 0)
        {
            return [];
        }

        var values = await db.StringGetAsync([.. members.Select(m => RecordOf(m!))]);
        return [.. values.Where(v => !v.IsNull).Select(v => Parse(v!)).Where(r => !r.Status.IsFinished())];
    }

    public async ValueTask<int> RemoveFinishedAsync(DateTimeOffset cutoff, CancellationToken cancellationToken)
    {
        var db = await redis.DatabaseAsync();
        var cutoffMs = cutoff.ToUnixTimeMilliseconds();
        var removed = 0;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var members = await db.SortedSetRangeByScoreAsync(_finished, double.NegativeInfinity, cutoffMs, Exclude.Stop, Order.Ascending, 0, RemoveBatch);
            foreach (var member in members)
            {
                var (tenant, id) = Split(member!);
                if (await db.KeyDeleteAsync(Record(tenant, id)))
                {
                    removed++;
                }

                await db.SortedSetRemoveAsync(TenantIndex(tenant), id);
                await db.SortedSetRemoveAsync(_finished, member);
            }

            if (members.Length < RemoveBatch)
            {
                break;
            }
        }

        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var claims = await db.SortedSetRangeByScoreAsync(_claimsByTime, double.NegativeInfinity, cutoffMs, Exclude.Stop, Order.Ascending, 0, RemoveBatch);
            if (claims.Length == 0)
            {
                return removed;
            }

            await db.KeyDeleteAsync([.. claims.Select(c => Claim(c!))]);
            await db.SortedSetRemoveAsync(_claimsByTime, claims);
        }
    }

    private RedisKey Record(string tenant, string id) => _prefix + "r:" + tenant + "/" + id;

    private RedisKey RecordOf(string member) => _prefix + "r:" + member;

    private RedisKey TenantIndex(string tenant) => _prefix + "t:" + tenant;

    private RedisKey Claim(string member) => _prefix + "c:" + member;

    private static string Member(GenerationRecord record) => record.Tenant + "/" + record.Id;

    private static (string Tenant, string Id) Split(string member)
    {
        var slash = member.IndexOf('/', StringComparison.Ordinal);
        return (member[..slash], member[(slash + 1)..]);
    }

    private static string Serialize(GenerationRecord record) => JsonSerializer.Serialize(record, StoreJson.Default.GenerationRecord);

    private static GenerationRecord Parse(string json) => JsonSerializer.Deserialize(json, StoreJson.Default.GenerationRecord)!;
}
