using Sluice.Ops;
using StackExchange.Redis;

namespace Sluice.Storage.Redis;

/// <summary>
/// Idempotency records of ops calls: one hash per scope (request hash, claim time, and once complete the response),
/// claimed by one script so that of two calls with one key exactly one runs; a sorted set by claim time for retention.
/// </summary>
internal sealed class RedisOpsIdempotencyStore(RedisConnection redis) : IOpsIdempotencyStore
{
    private const int RemoveBatch = 1000;

    // KEYS: record, by time. ARGV: scope, hash, now, expired before, stale before (ms).
    // Returns 0 claimed, 1 in progress, 2 completed, 3 conflict (as OpsIdempotencyOutcome), then the response.
    private const string ClaimScript = """
        local r = redis.call('HMGET', KEYS[1], 'hash', 'at', 'status', 'type', 'body')
        if r[2] and tonumber(r[2]) >= tonumber(ARGV[4]) then
          if r[1] ~= ARGV[2] then return {3} end
          if r[3] then return {2, r[3], r[4] or '', r[5]} end
          if tonumber(r[2]) >= tonumber(ARGV[5]) then return {1} end
        end
        redis.call('DEL', KEYS[1])
        redis.call('HSET', KEYS[1], 'hash', ARGV[2], 'at', ARGV[3])
        redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
        return {0}
        """;

    private const string CompleteScript = """
        if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
        redis.call('HSET', KEYS[1], 'status', ARGV[1], 'type', ARGV[2], 'body', ARGV[3])
        return 1
        """;

    private const string ReleaseScript = """
        if redis.call('HEXISTS', KEYS[1], 'status') == 1 then return 0 end
        redis.call('DEL', KEYS[1])
        redis.call('ZREM', KEYS[2], ARGV[1])
        return 1
        """;

    private readonly RedisKey _byTime = redis.Keys.Named("{opsidem}:by_time");
    private readonly string _prefix = redis.Keys.Named("{opsidem}:");

    public async ValueTask<OpsIdempotencyClaim> ClaimAsync(string scope, string requestHash, DateTimeOffset now, DateTimeOffset expiredBefore, DateTimeOffset staleBefore, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var db = await redis.DatabaseAsync();
        var result = (RedisResult[])(await db.ScriptEvaluateAsync(ClaimScript, [Record(scope), _byTime],
            [scope, requestHash, now.ToUnixTimeMilliseconds(), expiredBefore.ToUnixTimeMilliseconds(), staleBefore.ToUnixTimeMilliseconds()]))!;
        var outcome = (OpsIdempotencyOutcome)(int)result[0];
        if (outcome != OpsIdempotencyOutcome.Completed)
        {
            return new OpsIdempotencyClaim(outcome);
        }

        var type = (string?)result[2];
        return new OpsIdempotencyClaim(outcome, new OpsStoredResponse((int)result[1], string.IsNullOrEmpty(type) ? null : type, (byte[])result[3]!));
    }

    public async ValueTask CompleteAsync(string scope, OpsStoredResponse response, CancellationToken cancellationToken)
    {
        var db = await redis.DatabaseAsync();
        await db.ScriptEvaluateAsync(CompleteScript, [Record(scope)], [response.Status, response.ContentType ?? "", response.Body]);
    }

    public async ValueTask ReleaseAsync(string scope, CancellationToken cancellationToken)
    {
        var db = await redis.DatabaseAsync();
        await db.ScriptEvaluateAsync(ReleaseScript, [Record(scope), _byTime], [scope]);
    }

    public async ValueTask<int> RemoveBeforeAsync(DateTimeOffset cutoff, CancellationToken cancellationToken)
    {
        var db = await redis.DatabaseAsync();
        var removed = 0;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var scopes = await db.SortedSetRangeByScoreAsync(_byTime, double.NegativeInfinity, cutoff.ToUnixTimeMilliseconds(), Exclude.Stop, Order.Ascending, 0, RemoveBatch);
            if (scopes.Length == 0)
            {
                return removed;
            }

            await db.KeyDeleteAsync([.. scopes.Select(s => Record(s!))]);
            removed += (int)await db.SortedSetRemoveAsync(_byTime, scopes);
        }
    }

    private RedisKey Record(string scope) => _prefix + "r:" + scope;
}
