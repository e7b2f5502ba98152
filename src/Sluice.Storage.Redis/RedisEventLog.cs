using System.Globalization;
using Sluice.Streams;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;
using StreamInfo = Sluice.Streams.StreamInfo;

namespace Sluice.Storage.Redis;

/// <summary>
/// <see cref="IEventLog"/> on Redis: one Redis Stream per Sluice stream (entry id <c>{id}-0</c>, fields
/// <c>t</c>, <c>d</c>, <c>ts</c>) beside a meta hash, both under the stream's hash tag. An append is one Lua
/// script, so it is atomic and ordered: it refuses a closed stream, assigns the next dense ids, XADDs them,
/// trims to the batch's keep count, updates the meta, sets both keys to expire, and PUBLISHes the batch with
/// its first id; pub/sub order then equals id order (Centrifugo's Redis engine works the same way).
/// </summary>
internal sealed partial class RedisEventLog(RedisConnection redis, TimeProvider? time = null, ILogger<RedisEventLog>? logger = null) : IEventLog
{
    /// <summary>Streams looked at per retention pass.</summary>
    private const int RemoveBatch = 500;

    // KEYS: meta, events, lease, lease owner. ARGV: now (ms), closes (1/0), keep, retain (ms, 0 = none), channel, the
    // last id this node saw acknowledged (0 = none), the lease token fencing the append ('' = none), then type, data
    // per event (none: only the check for lost events).
    // Returns the first id assigned, 0 when there was nothing to append, -1 when the stream is closed, -2 when this
    // call closed it because Redis lost acknowledged events, -3 when the fence is not the lease's holder. A lapsed
    // lease (its key expired, say through a Redis outage) still fences for its last taker until a reaper takes it.
    private static readonly string AppendScript = """
        local meta, log = KEYS[1], KEYS[2]
        if ARGV[7] ~= '' then
          local holder = redis.call('GET', KEYS[3])
          if holder ~= ARGV[7] and (holder or redis.call('GET', KEYS[4]) ~= ARGV[7]) then return -3 end
        end
        local state = redis.call('HMGET', meta, 'last', 'closed', 'first')
        if state[2] then return -1 end
        local now = ARGV[1]
        local last, first = tonumber(state[1]), tonumber(state[3])
        if not last then
          -- A missing meta beside existing events must not restart the stream at 1: take the ids from the events.
          local newest = redis.call('XREVRANGE', log, '+', '-', 'COUNT', 1)
          if #newest > 0 then
            last = tonumber(string.match(newest[1][1], '^(%d+)'))
            first = tonumber(string.match(redis.call('XRANGE', log, '-', '+', 'COUNT', 1)[1][1], '^(%d+)'))
          else
            last, first = 0, 1
          end
          redis.call('HSET', meta, 'created', now)
        end
        local retain = tonumber(ARGV[4])
        local acked = tonumber(ARGV[6])
        if last < acked then
          -- Redis came back with less than it acknowledged (an older dataset, a lost AOF). Handing out those ids
          -- again would give a resuming client other events under ids it has seen: end the stream instead, with
          -- the store's marker after the highest id ever acknowledged.
          last = acked + 1
          if redis.call('XLEN', log) == 0 then first = last end
          redis.call('XADD', log, last .. '-0', 't', '__LOST_TYPE__', 'd', '__LOST_DATA__', 'ts', now)
          redis.call('HSET', meta, 'first', first, 'last', last, 'last_at', now, 'closed', now, 'lost', acked)
          if retain > 0 then
            redis.call('PEXPIRE', meta, retain)
            redis.call('PEXPIRE', log, retain)
          end
          redis.call('PUBLISH', ARGV[5], last .. '\n' .. now .. '\n__LOST_TYPE__\n__LOST_DATA__')
          return -2
        end
        if #ARGV < 8 then return 0 end
        local start = last + 1
        local parts = {tostring(start), now}
        for i = 8, #ARGV, 2 do
          last = last + 1
          redis.call('XADD', log, last .. '-0', 't', ARGV[i], 'd', ARGV[i + 1], 'ts', now)
          parts[#parts + 1] = ARGV[i]
          parts[#parts + 1] = ARGV[i + 1]
        end
        local keep = tonumber(ARGV[3])
        if last - first + 1 > keep then
          first = last - keep + 1
          redis.call('XTRIM', log, 'MINID', first)
        end
        redis.call('HSET', meta, 'first', first, 'last', last, 'last_at', now)
        if ARGV[2] == '1' then redis.call('HSET', meta, 'closed', now) end
        if retain > 0 then
          redis.call('PEXPIRE', meta, retain)
          redis.call('PEXPIRE', log, retain)
        end
        redis.call('PUBLISH', ARGV[5], table.concat(parts, '\n'))
        return start
        """.Replace("__LOST_TYPE__", EventTypes.StoreLostEvents, StringComparison.Ordinal).Replace("__LOST_DATA__", LostData, StringComparison.Ordinal);

    /// <summary>The data of the marker that ends a stream whose acknowledged events Redis lost.</summary>
    internal const string LostData = """{"code":"store_lost_events","message":"The store lost events it had acknowledged; the stream ends here so that no id is used twice.","retryable":false}""";

    // KEYS: meta, events. ARGV: cutoff (ms). Removes the stream when its last event is older (or it is gone already).
    private const string RemoveIfExpiredScript = """
        local at = redis.call('HGET', KEYS[1], 'last_at')
        if at and tonumber(at) >= tonumber(ARGV[1]) then return 0 end
        redis.call('DEL', KEYS[1], KEYS[2])
        return 1
        """;

    /// <summary>Streams whose last acknowledged id a node keeps (about 100 bytes each).</summary>
    internal const int RememberedStreams = 100_000;

    private readonly RedisKeys _keys = redis.Keys;
    private readonly AcknowledgedIds _acknowledged = new(RememberedStreams);
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly ILogger _logger = (ILogger?)logger ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
    private int _hooked;
    private volatile string? _runId;

    private async ValueTask<IDatabase> DatabaseAsync()
    {
        var db = await redis.DatabaseAsync();
        if (Volatile.Read(ref _hooked) == 0)
        {
            var runId = await RunIdAsync(db);
            if (Interlocked.Exchange(ref _hooked, 1) != 0)
            {
                return db;
            }

            _runId = runId;
            (await redis.MultiplexerAsync()).ConnectionRestored += (_, e) =>
            {
                if (e.ConnectionType == ConnectionType.Interactive)
                {
                    _ = CheckAfterRestartAsync();
                }
            };
        }

        return db;
    }

    // INFO through a script: StackExchange.Redis refuses INFO itself outside admin mode, scripts may call it.
    private const string RunIdScript = "return string.match(redis.call('INFO', 'server'), 'run_id:(%w+)')";

    private static async Task<string?> RunIdAsync(IDatabase db)
    {
        try
        {
            return (string?)await db.ScriptEvaluateAsync(RunIdScript);
        }
        catch (RedisServerException e) when (!RedisStoreFaults.IsTransient(e.Message))
        {
            // A managed Redis may refuse INFO even in scripts: no restart check then, every append still checks.
            return null;
        }
    }

    /// <summary>
    /// After a reconnect to a Redis that restarted (a new <c>run_id</c>), every stream this node saw acknowledged is
    /// checked at once, not at its next append: one whose events did not survive ends with the store's marker, so
    /// its open responses end with <c>store_lost_events</c> instead of waiting for events that will never come.
    /// </summary>
    private async Task CheckAfterRestartAsync()
    {
        // A reconnect can come while Redis is still loading its dataset: try again for a while, since no further
        // reconnect will come to trigger the check. Appends check their stream meanwhile either way.
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var db = await redis.DatabaseAsync();
                var runId = await RunIdAsync(db);
                if (runId is null || runId == _runId)
                {
                    return;
                }

                var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
                var ended = 0;
                foreach (var chunk in _acknowledged.Live(now).Chunk(256))
                {
                    // No events, only the check; a stream it ends keeps the expiry its last append set.
                    var checks = chunk.Select(p => db.ScriptEvaluateAsync(AppendScript, UnfencedKeys(p.Key),
                        [now, 0, long.MaxValue, p.Value.ExpiresAtMs == long.MaxValue ? 0 : p.Value.ExpiresAtMs - now, _keys.Live(p.Key).ToString(), p.Value.LastId, ""])).ToArray();
                    foreach (var check in checks)
                    {
                        if ((long)await check == EndedLost)
                        {
                            ended++;
                        }
                    }
                }

                _runId = runId;
                LogRestartChecked(runId, ended);
                return;
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                if (attempt == RestartCheckAttempts)
                {
                    LogRestartCheckFailed(ex);
                    return;
                }

                await Task.Delay(TimeSpan.FromSeconds(1), _time);
            }
        }
    }

    /// <summary>What the append script returns when its fence is not the stream's lease holder.</summary>
    private const long Fenced = -3;

    private RedisKey[] Keys(StreamKey key) => [_keys.Meta(key), _keys.Events(key), _keys.Lease(key), _keys.LeaseOwner(key)];

    // The script reads the lease keys only for a fenced batch: a publish (every stream append) builds two key names, not four.
    private RedisKey[] UnfencedKeys(StreamKey key) => [_keys.Meta(key), _keys.Events(key)];

    /// <summary>Tries of the restart check, a second apart, before it is left to the next reconnect.</summary>
    private const int RestartCheckAttempts = 60;

    /// <summary>What the append script returns when it ended the stream with the store's marker (-1: already closed).</summary>
    private const long EndedLost = -2;

    public async ValueTask<AppendResult> AppendAsync(StreamKey key, AppendBatch batch, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var events = batch.Events;
        var now = batch.At.ToUnixTimeMilliseconds();
        var args = new RedisValue[7 + (2 * events.Count)];
        args[0] = now;
        args[1] = batch.Closes ? 1 : 0;
        args[2] = batch.KeepLast;
        args[3] = (long)batch.RetainFor.TotalMilliseconds;
        args[4] = _keys.Live(key).ToString();
        args[5] = _acknowledged.LastId(key, now);
        args[6] = batch.Fence ?? "";
        for (var i = 0; i < events.Count; i++)
        {
            args[7 + (2 * i)] = events[i].Type;
            args[8 + (2 * i)] = events[i].Data;
        }

        var db = await DatabaseAsync();
        var first = (long)await db.ScriptEvaluateAsync(AppendScript, batch.Fence is null ? UnfencedKeys(key) : Keys(key), args);
        if (first == Fenced)
        {
            return AppendResult.LeaseLost;
        }

        if (first < 0)
        {
            return AppendResult.StreamClosed;
        }

        _acknowledged.Remember(key, first + events.Count - 1, batch.RetainFor > TimeSpan.Zero ? now + (long)batch.RetainFor.TotalMilliseconds : long.MaxValue);

        // Retention's index of streams by age: not in the script, since it is not in the stream's slot. Should it be
        // lost, the keys' own expiry removes the stream anyway.
        _ = db.SortedSetAddAsync(_keys.StreamsByAge, Member(key), now, CommandFlags.FireAndForget);
        var at = DateTimeOffset.FromUnixTimeMilliseconds(now);
        var stored = new StoredEvent[events.Count];
        for (var i = 0; i < events.Count; i++)
        {
            stored[i] = new StoredEvent(first + i, events[i].Type, events[i].Data, at);
        }

        return AppendResult.Appended(stored);
    }

    public async ValueTask<IReadOnlyList<StoredEvent>> ReadAsync(StreamKey key, long afterId, int maxCount, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (maxCount <= 0 || afterId == long.MaxValue)
        {
            return [];
        }

        var db = await redis.DatabaseAsync();
        var entries = await db.StreamRangeAsync(_keys.Events(key), minId: (afterId + 1).ToString(CultureInfo.InvariantCulture), maxId: "+", count: maxCount);
        var result = new StoredEvent[entries.Length];
        for (var i = 0; i < entries.Length; i++)
        {
            result[i] = ToEvent(entries[i]);
        }

        return result;
    }

    public async ValueTask<StreamInfo?> GetInfoAsync(StreamKey key, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var db = await redis.DatabaseAsync();
        var v = await db.HashGetAsync(_keys.Meta(key), [(RedisValue)"first", "last", "created", "closed", "last_at"]);
        if (v[1].IsNull)
        {
            return null;
        }

        return new StreamInfo(
            key.StreamId,
            !v[3].IsNull,
            (long)v[0],
            (long)v[1],
            DateTimeOffset.FromUnixTimeMilliseconds((long)v[2]),
            v[3].IsNull ? null : DateTimeOffset.FromUnixTimeMilliseconds((long)v[3]),
            DateTimeOffset.FromUnixTimeMilliseconds((long)v[4]));
    }

    public async ValueTask<IReadOnlyList<StreamKey>> RemoveExpiredAsync(DateTimeOffset cutoff, CancellationToken cancellationToken)
    {
        var db = await redis.DatabaseAsync();
        var cutoffMs = cutoff.ToUnixTimeMilliseconds();
        var removed = new List<StreamKey>();
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var members = await db.SortedSetRangeByScoreAsync(_keys.StreamsByAge, double.NegativeInfinity, cutoffMs, Exclude.Stop, take: RemoveBatch);
            foreach (var member in members)
            {
                var key = Parse(member);
                if ((long)await db.ScriptEvaluateAsync(RemoveIfExpiredScript, [_keys.Meta(key), _keys.Events(key)], [cutoffMs]) == 1)
                {
                    removed.Add(key);
                    _acknowledged.Forget(key);
                }

                // Removed, or appended to since it was indexed (its newer score is on the way, or the entry is stale).
                await db.SortedSetRemoveAsync(_keys.StreamsByAge, member);
                var score = await db.HashGetAsync(_keys.Meta(key), "last_at");
                if (!score.IsNull)
                {
                    await db.SortedSetAddAsync(_keys.StreamsByAge, member, (long)score);
                }
            }

            if (members.Length < RemoveBatch)
            {
                return removed;
            }
        }
    }

    public async ValueTask PingAsync(CancellationToken cancellationToken)
    {
        var db = await redis.DatabaseAsync();
        await db.PingAsync();
    }

    private static string Member(StreamKey key) => key.Tenant + "/" + key.StreamId;

    private static StreamKey Parse(RedisValue member)
    {
        var s = (string)member!;
        var slash = s.IndexOf('/', StringComparison.Ordinal);
        return new StreamKey(s[..slash], s[(slash + 1)..]);
    }

    private static StoredEvent ToEvent(StreamEntry entry)
    {
        var id = (string)entry.Id!;
        var dash = id.IndexOf('-', StringComparison.Ordinal);
        string? type = null, data = null;
        long ts = 0;
        foreach (var field in entry.Values)
        {
            switch ((string?)field.Name)
            {
                case "t": type = field.Value; break;
                case "d": data = field.Value; break;
                case "ts": ts = (long)field.Value; break;
            }
        }

        return new StoredEvent(long.Parse(id.AsSpan(0, dash < 0 ? id.Length : dash), CultureInfo.InvariantCulture), type ?? "", data ?? "{}", DateTimeOffset.FromUnixTimeMilliseconds(ts));
    }

    /// <summary>A batch as the append script publishes it: first id, time, then type and data per event, one per line (data is compact JSON: no newline).</summary>
    internal static IReadOnlyList<StoredEvent>? ParseAnnouncement(string message)
    {
        var lines = message.Split('\n');
        if (lines.Length < 4 || (lines.Length % 2) != 0
            || !long.TryParse(lines[0], NumberStyles.None, CultureInfo.InvariantCulture, out var first)
            || !long.TryParse(lines[1], NumberStyles.None, CultureInfo.InvariantCulture, out var ms))
        {
            return null;
        }

        var at = DateTimeOffset.FromUnixTimeMilliseconds(ms);
        var events = new StoredEvent[(lines.Length - 2) / 2];
        for (var i = 0; i < events.Length; i++)
        {
            events[i] = new StoredEvent(first + i, lines[2 + (2 * i)], lines[3 + (2 * i)], at);
        }

        return events;
    }

    [LoggerMessage(EventId = 3120, Level = LogLevel.Warning, Message = "Redis restarted (run_id {RunId}); streams ended with store_lost_events because their acknowledged events were not there: {Ended}")]
    private partial void LogRestartChecked(string runId, int ended);

    [LoggerMessage(EventId = 3121, Level = LogLevel.Warning, Message = "Checking streams after a Redis restart failed for a minute; the next reconnect checks again (appends check their own stream meanwhile)")]
    private partial void LogRestartCheckFailed(Exception exception);
}
