using Sluice.Protection;
using StackExchange.Redis;

namespace Sluice.Storage.Redis;

/// <summary>
/// Cluster-wide request budgets: the generic cell rate algorithm (GCRA) in one script, keyed per bucket. A bucket is
/// one number, its theoretical arrival time, on Redis' own clock (<c>TIME</c>), so nodes' clocks do not matter and
/// a budget costs one round trip and one small key that expires once the bucket is full again.
/// </summary>
internal sealed class RedisRequestRates(RedisConnection redis) : IRequestRateStore
{
    // KEYS: bucket. ARGV: emission interval (µs), burst. Returns 0 admitted, else µs until the next admission.
    private const string TakeScript = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
        local interval = tonumber(ARGV[1])
        local tat = tonumber(redis.call('GET', KEYS[1])) or now
        if tat < now then tat = now end
        local allowed_at = tat + interval - interval * tonumber(ARGV[2])
        if now < allowed_at then return allowed_at - now end
        tat = tat + interval
        redis.call('SET', KEYS[1], tat, 'PX', math.ceil((tat - now) / 1000) + 1000)
        return 0
        """;

    private readonly string _prefix = redis.Keys.Named("rate:");

    public async ValueTask<TimeSpan?> TryTakeAsync(string bucket, int perMinute, int burst, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var db = await redis.DatabaseAsync();
        var intervalMicros = 60_000_000L / Math.Max(1, perMinute);
        var wait = (long)await db.ScriptEvaluateAsync(TakeScript, [(RedisKey)(_prefix + bucket)], [intervalMicros, Math.Max(1, burst)]);
        return wait <= 0 ? null : TimeSpan.FromTicks(wait * 10);
    }
}
