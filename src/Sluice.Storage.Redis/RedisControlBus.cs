using System.Globalization;
using Sluice.Cluster;
using StackExchange.Redis;

namespace Sluice.Storage.Redis;

/// <summary>
/// <see cref="IControlBus"/> on Redis: a version counter, a Redis Stream of the last <see cref="Kept"/> changes (entry
/// id = version), a hash of each lever's latest state, and a channel; one script stores and announces a change, so the
/// version, the log and the announcement agree. All keys share the <c>{control}</c> hash tag.
/// </summary>
internal sealed class RedisControlBus(RedisConnection redis) : IControlBus
{
    /// <summary>Changes the log keeps: a node that missed more reloads the levers' state instead.</summary>
    internal const int Kept = 1000;

    // KEYS: version, log, state. ARGV: kind, data, origin, kept, is state (1/0), channel.
    private const string PublishScript = """
        local v = redis.call('INCR', KEYS[1])
        redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], v .. '-0', 'k', ARGV[1], 'd', ARGV[2], 'o', ARGV[3])
        if ARGV[5] == '1' then redis.call('HSET', KEYS[3], ARGV[1], ARGV[2]) end
        redis.call('PUBLISH', ARGV[6], v)
        return v
        """;

    // KEYS: version, state. Returns {version, field, value, ...}.
    private const string StateScript = """
        local out = {redis.call('GET', KEYS[1]) or '0'}
        local all = redis.call('HGETALL', KEYS[2])
        for i = 1, #all do out[#out + 1] = all[i] end
        return out
        """;

    private readonly RedisKey _version = redis.Keys.Named("{control}:version");
    private readonly RedisKey _log = redis.Keys.Named("{control}:log");
    private readonly RedisKey _state = redis.Keys.Named("{control}:state");
    private readonly RedisChannel _channel = RedisChannel.Literal(redis.Keys.Named("{control}:live"));

    public bool Shared => true;

    public string Origin { get; } = Guid.NewGuid().ToString("N");

    public async ValueTask<long> PublishAsync(string kind, string data, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var db = await redis.DatabaseAsync();
        return (long)await db.ScriptEvaluateAsync(PublishScript, [_version, _log, _state],
            [kind, data, Origin, Kept, ControlKinds.IsState(kind) ? 1 : 0, _channel.ToString()]);
    }

    public async ValueTask<(long Version, IReadOnlyList<ControlChange> Changes, bool Complete)> ReadAfterAsync(long afterVersion, int max, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var db = await redis.DatabaseAsync();
        var version = (long?)await db.StringGetAsync(_version) ?? 0;
        if (version <= afterVersion)
        {
            return (version, [], true);
        }

        var entries = await db.StreamRangeAsync(_log, $"{afterVersion + 1}-0", "+", max);
        var changes = new List<ControlChange>(entries.Length);
        foreach (var entry in entries)
        {
            var id = (string)entry.Id!;
            changes.Add(new ControlChange(long.Parse(id.AsSpan(0, id.IndexOf('-', StringComparison.Ordinal)), CultureInfo.InvariantCulture),
                (string?)entry["k"] ?? "", (string?)entry["d"] ?? "", (string?)entry["o"] ?? ""));
        }

        return (version, changes, changes.Count > 0 && changes[0].Version == afterVersion + 1);
    }

    public async ValueTask<(long Version, IReadOnlyDictionary<string, string> State)> StateAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var db = await redis.DatabaseAsync();
        var result = (RedisResult[])(await db.ScriptEvaluateAsync(StateScript, [_version, _state]))!;
        var state = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 1; i + 1 < result.Length; i += 2)
        {
            state[(string)result[i]!] = (string)result[i + 1]!;
        }

        return (long.Parse((string)result[0]!, CultureInfo.InvariantCulture), state);
    }

    public async ValueTask SubscribeAsync(Action announced, CancellationToken cancellationToken)
    {
        var multiplexer = await redis.MultiplexerAsync();
        await multiplexer.GetSubscriber().SubscribeAsync(_channel, (_, _) => announced());
    }
}
