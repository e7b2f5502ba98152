using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.Extensions.Options;
using Sluice.Configuration;
using Sluice.Diagnostics;
using Sluice.Streams;

namespace Sluice.Fanout;

/// <summary>
/// The stream hub: appends go to the durable log and then to the live feed; subscriptions are tracked so
/// that heartbeats, shutdown and broadcast-reconnect reach every open response on this node.
/// </summary>
internal sealed class StreamHub
{
    private readonly IEventLog _log;
    private readonly ILiveFeed _feed;
    private readonly LocalFanout _fanout;
    private readonly IOptionsMonitor<SluiceOptions> _options;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<long, Subscription> _open = new();
    private long _nextId;
    private readonly Protection.AdjustableConcurrencyLimiter _connections;
    private long _lastEventSentTicks;
    private volatile bool _stopping;
    private volatile bool _draining;
    private byte[] _heartbeat = [];
    private readonly long _started;
    private readonly SlidingWindowCounter _reconnects;

    private readonly RecentEventsCache _cache;

    /// <summary>The optional parts are the host's (tests and benchmarks leave them out): DI fills what is registered.</summary>
    public StreamHub(IEventLog log, ILiveFeed feed, IOptionsMonitor<SluiceOptions> options, TimeProvider time, RecentEventsCache? cache = null, SluiceMetrics? metrics = null, Protection.RuntimeControls? controls = null, Storage.IStoreFaults? faults = null)
    {
        Faults = faults ?? new Storage.EmbeddedStoreFaults();
        _cache = cache ?? new RecentEventsCache(options, time);
        _connections = new Protection.AdjustableConcurrencyLimiter(() => controls?.MaxSseConnections ?? options.CurrentValue.Limits.MaxSseConnections, time);
        Metrics = metrics;
        _started = time.GetTimestamp();
        _reconnects = new SlidingWindowCounter(time, TimeSpan.FromMinutes(5));
        _log = log;
        _feed = feed;
        _options = options;
        _time = time;
        _fanout = new LocalFanout(options, log, feed, time, Faults);
    }

    /// <summary>Tells a store outage (wait and retry) from a bug.</summary>
    public Storage.IStoreFaults Faults { get; }

    /// <summary>This node's fan-out (streams with a local subscriber).</summary>
    internal LocalFanout Fanout => _fanout;

    public IEventLog Log => _log;

    /// <summary>Open SSE responses on this node.</summary>
    public int OpenConnections => _connections.Held;

    /// <summary>True once the node stops taking subscribers (shutdown).</summary>
    public bool IsStopping => _stopping;

    /// <summary>True once an operator drained the node: no new subscribers, readiness fails.</summary>
    public bool IsDraining => _draining;

    public SluiceMetrics? Metrics { get; }

    /// <summary>Since an event was last written to a client; since start when none was.</summary>
    public TimeSpan LastEventAge => LastEventSentAt is { } at ? _time.GetUtcNow() - at : _time.GetElapsedTime(_started);

    /// <summary>Subscribes that resumed from a position in the last five minutes.</summary>
    public long ReconnectsLast5Minutes => _reconnects.Total();

    public void RecordReconnect()
    {
        _reconnects.Increment();
        Metrics?.Reconnect();
    }

    /// <summary>When an event (not a heartbeat) was last written to any client, or null.</summary>
    public DateTimeOffset? LastEventSentAt
    {
        get
        {
            var ticks = Interlocked.Read(ref _lastEventSentTicks);
            return ticks == 0 ? null : new DateTimeOffset(ticks, TimeSpan.Zero);
        }
    }

    /// <summary>
    /// Appends to the log, then offers the stored events to live subscribers. The stream's policy is decided
    /// here, once for every backend: a terminal event closes it, it keeps the newest
    /// <c>Sluice:Retention:MaxEventsPerStream</c> events, and its events carry the hub's clock.
    /// </summary>
    public ValueTask<AppendResult> PublishAsync(StreamKey key, IReadOnlyList<NewEvent> events, CancellationToken cancellationToken) =>
        PublishAsync(key, events, null, cancellationToken);

    /// <summary>As <see cref="PublishAsync(StreamKey, IReadOnlyList{NewEvent}, CancellationToken)"/>, fenced by a generation's lease token.</summary>
    public async ValueTask<AppendResult> PublishAsync(StreamKey key, IReadOnlyList<NewEvent> events, string? fence, CancellationToken cancellationToken)
    {
        var retention = _options.CurrentValue.Retention;
        var batch = AppendBatch.Of(events, _time.GetUtcNow(), retention.MaxEventsPerStream, retention.Age, fence);
        var result = await _log.AppendAsync(key, batch, cancellationToken);
        if (result.Status == AppendStatus.Appended)
        {
            // Encode once here, off every subscriber's path; each connection then writes the same bytes.
            foreach (var e in result.Events)
            {
                _ = e.Frame;
            }

            _cache.Put(key, result.Events);
            _feed.Announce(key, result.Events);
        }

        return result;
    }

    /// <summary>
    /// Events after <paramref name="afterId"/>, like <see cref="IEventLog.ReadAsync"/>: the cached prefix, and the
    /// log for the rest. A crowd replaying one stream shares the cached events and their encoded frames.
    /// </summary>
    public async ValueTask<IReadOnlyList<StoredEvent>> ReadAsync(StreamKey key, long afterId, int maxCount, CancellationToken cancellationToken)
    {
        var cached = _cache.Get(key, afterId, maxCount);
        if (cached.Count == maxCount)
        {
            return cached;
        }

        var from = cached.Count > 0 ? cached[^1].Id : afterId;
        var stored = await _log.ReadAsync(key, from, maxCount - cached.Count, cancellationToken);
        _cache.Put(key, stored);
        if (cached.Count == 0)
        {
            return stored;
        }

        cached.AddRange(stored);
        return cached;
    }

    /// <summary>
    /// What the log says of the stream now, checked against the cache: a stream gone or created again since its events
    /// were cached (another node's retention) has them dropped before any replay.
    /// </summary>
    public async ValueTask<StreamInfo?> GetInfoAsync(StreamKey key, CancellationToken cancellationToken)
    {
        var info = await _log.GetInfoAsync(key, cancellationToken);
        if (info is null)
        {
            _cache.Remove(key);
        }
        else
        {
            _cache.Validate(key, info.CreatedAt);
        }

        return info;
    }

    /// <summary>Age retention: removes expired streams from the log and forgets their cached events.</summary>
    public async ValueTask<int> RemoveExpiredAsync(DateTimeOffset cutoff, CancellationToken cancellationToken)
    {
        var removed = await _log.RemoveExpiredAsync(cutoff, cancellationToken);
        foreach (var key in removed)
        {
            _cache.Remove(key);
        }

        return removed.Count;
    }

    /// <summary>A connection slot, released by disposing it; null at the node's limit or while it drains or stops (answer 503 + Retry-After).</summary>
    public System.Threading.RateLimiting.RateLimitLease? TryOpenConnection()
    {
        if (_stopping || _draining)
        {
            return null;
        }

        var lease = _connections.AttemptAcquire();
        if (lease.IsAcquired)
        {
            return lease;
        }

        lease.Dispose();
        return null;
    }

    /// <summary>Creates the live queue of one response. It receives heartbeats at once; stream events once watched.</summary>
    public Subscription CreateSubscription(StreamKey key, CancellationToken requestAborted, string? keyId = null, DateTimeOffset? expiresAt = null)
    {
        var id = Interlocked.Increment(ref _nextId);
        var subscription = new Subscription(id, key, requestAborted, s => _open.TryRemove(s.Id, out _));
        subscription.BindCredential(keyId, expiresAt, _time);
        _open[id] = subscription;
        if (_stopping)
        {
            subscription.End(SessionEnd.Reconnect, _options.CurrentValue.Retry);
        }

        return subscription;
    }

    /// <summary>Joins the subscription to the stream's live events; completes once nothing appended after it can be missed.</summary>
    public ValueTask<IDisposable> WatchAsync(Subscription subscription) => _fanout.WatchAsync(subscription.Key, subscription, subscription.Token);

    /// <summary>Sends one id-less heartbeat, encoded once, to every open response.</summary>
    public void BroadcastHeartbeat()
    {
        if (_open.IsEmpty)
        {
            return;
        }

        var now = _time.GetUtcNow();
        var data = "{\"server_time\":\"" + now.ToString("O", CultureInfo.InvariantCulture) + "\"}";
        Volatile.Write(ref _heartbeat, SseFrames.EncodeUnnumbered(EventTypes.Heartbeat, data));
        foreach (var subscription in _open.Values)
        {
            subscription.RequestHeartbeat();
        }
    }

    /// <summary>Ends every open response opened with the key (or a token it minted): it was revoked.</summary>
    public int EndCredential(string keyId)
    {
        var count = 0;
        foreach (var subscription in _open.Values)
        {
            if (subscription.KeyId == keyId)
            {
                subscription.End(SessionEnd.CredentialRevoked, null);
                count++;
            }
        }

        return count;
    }

    /// <summary>Asks every open response to end with <c>retry:</c> so its client resumes (elsewhere).</summary>
    public int ReconnectAll(TimeSpan retry, bool jitter = false)
    {
        var count = 0;
        foreach (var subscription in _open.Values)
        {
            // Jittered over [0.5, 1.5) of the base, so the clients come back spread out, not as one wave.
            var delay = jitter ? TimeSpan.FromMilliseconds(retry.TotalMilliseconds * (0.5 + Random.Shared.NextDouble())) : retry;
            subscription.End(SessionEnd.Reconnect, delay);
            count++;
        }

        return count;
    }

    /// <summary>Stops taking subscribers (503) and sends the open ones away with a jittered <c>retry:</c>.</summary>
    public int Drain(TimeSpan retry)
    {
        _draining = true;
        return ReconnectAll(retry, jitter: true);
    }

    /// <summary>Stops taking subscribers and sends every open one away (SIGTERM).</summary>
    public void Stop()
    {
        _stopping = true;
        ReconnectAll(_options.CurrentValue.Retry);
    }

    internal TimeProvider Time => _time;

    internal TimeSpan WriteTimeout => _options.CurrentValue.Limits.WriteTimeout;

    /// <summary>The latest heartbeat frame, shared by every response.</summary>
    internal ReadOnlyMemory<byte> HeartbeatFrame => Volatile.Read(ref _heartbeat);

    public void MarkEventSent()
    {
        // Written at most every 100 ms: every connection's flush comes here, and one hot shared line would
        // bounce between cores on each of them.
        var now = _time.GetUtcNow().UtcTicks;
        if (now - Volatile.Read(ref _lastEventSentTicks) > TimeSpan.TicksPerMillisecond * 100)
        {
            Volatile.Write(ref _lastEventSentTicks, now);
        }
    }
}
