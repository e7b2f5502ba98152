using Microsoft.Extensions.Options;
using Sluice.Configuration;
using Sluice.Generations;
using Sluice.Streams;
using StackExchange.Redis;

namespace Sluice.Storage.Redis;

/// <summary>
/// Generation leases on Redis (Kleppmann's "How to do distributed locking", with the fencing check in the same
/// store as the data). A lease is a key under its stream's hash tag holding the holder's random token, taken with
/// <c>SET NX PX</c> and renewed by a script that checks the token; a second key remembers the last taker's token, so
/// that the append script (<see cref="RedisEventLog"/>) refuses every other writer, and a holder whose key lapsed
/// during a Redis outage can take it back as long as no reaper took it first. A sorted set by expiry (the holder's
/// clock; only a hint, the key's own ttl decides) lets the reapers find expired leases without scanning.
/// </summary>
internal sealed class RedisGenerationLeases(RedisConnection redis, IOptionsMonitor<SluiceOptions> options, TimeProvider? time = null) : IGenerationLeases
{
    // KEYS: lease, owner. ARGV: token, ttl (ms), how long the owner is remembered (ms).
    private const string AcquireScript = """
        if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
          redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[3])
          return 1
        end
        return 0
        """;

    // KEYS: lease, owner. ARGV: token, ttl (ms), how long the owner is remembered (ms). 1 renewed, 0 lost.
    private const string RenewScript = """
        local holder = redis.call('GET', KEYS[1])
        if holder == ARGV[1] or (not holder and redis.call('GET', KEYS[2]) == ARGV[1]) then
          redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
          redis.call('PEXPIRE', KEYS[2], ARGV[3])
          return 1
        end
        return 0
        """;

    // KEYS: lease, owner. ARGV: token. Deletes both only while they are the token's.
    private const string ReleaseScript = """
        if redis.call('GET', KEYS[2]) == ARGV[1] then
          redis.call('DEL', KEYS[1], KEYS[2])
          return 1
        end
        return 0
        """;

    /// <summary>The owner key outlives its lease this many times over: long enough for a paused holder to be told it lost.</summary>
    private const int OwnerLifetimes = 360;

    private readonly RedisKeys _keys = redis.Keys;
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    public bool Shared => true;

    private long TtlMs => (long)options.CurrentValue.Cluster.LeaseTtl.TotalMilliseconds;

    public async ValueTask<GenerationLease?> TryAcquireAsync(StreamKey stream, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var db = await redis.DatabaseAsync();
        var token = Guid.NewGuid().ToString("N");
        var ttl = TtlMs;
        if ((long)await db.ScriptEvaluateAsync(AcquireScript, [_keys.Lease(stream), _keys.LeaseOwner(stream)], [token, ttl, ttl * OwnerLifetimes]) != 1)
        {
            return null;
        }

        await db.SortedSetAddAsync(_keys.LeasesByExpiry, Member(stream), _time.GetUtcNow().ToUnixTimeMilliseconds() + ttl);
        return new GenerationLease(stream, token);
    }

    public async ValueTask<bool> RenewAsync(GenerationLease lease, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var db = await redis.DatabaseAsync();
        var ttl = TtlMs;
        var renewed = (long)await db.ScriptEvaluateAsync(RenewScript, [_keys.Lease(lease.Stream), _keys.LeaseOwner(lease.Stream)], [lease.Token, ttl, ttl * OwnerLifetimes]) == 1;
        if (renewed)
        {
            // Not in the script: the index is not in the stream's slot. A lost update only makes a reaper look early.
            _ = db.SortedSetAddAsync(_keys.LeasesByExpiry, Member(lease.Stream), _time.GetUtcNow().ToUnixTimeMilliseconds() + ttl, CommandFlags.FireAndForget);
        }

        return renewed;
    }

    public async ValueTask ReleaseAsync(GenerationLease lease, CancellationToken cancellationToken)
    {
        var db = await redis.DatabaseAsync();
        if ((long)await db.ScriptEvaluateAsync(ReleaseScript, [_keys.Lease(lease.Stream), _keys.LeaseOwner(lease.Stream)], [lease.Token]) == 1)
        {
            await db.SortedSetRemoveAsync(_keys.LeasesByExpiry, Member(lease.Stream));
        }
    }

    public async ValueTask<IReadOnlyList<StreamKey>> ExpiredAsync(int max, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var db = await redis.DatabaseAsync();
        var members = await db.SortedSetRangeByScoreAsync(_keys.LeasesByExpiry, double.NegativeInfinity, _time.GetUtcNow().ToUnixTimeMilliseconds(), take: max);
        var streams = new List<StreamKey>(members.Length);
        foreach (var member in members)
        {
            var text = (string)member!;
            var slash = text.IndexOf('/', StringComparison.Ordinal);
            if (slash > 0)
            {
                streams.Add(new StreamKey(text[..slash], text[(slash + 1)..]));
            }
            else
            {
                await db.SortedSetRemoveAsync(_keys.LeasesByExpiry, member);
            }
        }

        return streams;
    }

    private static string Member(StreamKey key) => key.Tenant + "/" + key.StreamId;
}
