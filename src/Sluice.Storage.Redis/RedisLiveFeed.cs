using Microsoft.Extensions.Logging;
using Sluice.Configuration;
using Sluice.Fanout;
using Sluice.Streams;
using StackExchange.Redis;

namespace Sluice.Storage.Redis;

/// <summary>
/// The live feed on Redis pub/sub: one channel subscription per stream per node (not per subscriber), read in
/// order through a <see cref="ChannelMessageQueue"/> (not concurrent handlers), each message handed to this
/// node's listeners once. The append script publishes every batch, so other nodes' appends arrive here; this
/// node's own are delivered at once by <see cref="Announce"/> and their echo dropped by the fan-out. When the
/// subscription connection comes back, or a subscribe first failed and then succeeded, listeners are told they
/// may have missed announcements, and read the log (one XRANGE per stream, in <see cref="LocalFanout"/>).
/// </summary>
internal sealed partial class RedisLiveFeed : ILiveFeed, IAsyncDisposable
{
    private readonly RedisConnection _redis;
    private readonly ILogger<RedisLiveFeed> _logger;
    private readonly LiveListeners _listeners = new();
    private readonly Dictionary<StreamKey, Channel> _channels = [];
    private long _resubscribes;
    private int _hooked;

    public RedisLiveFeed(RedisConnection redis, ILogger<RedisLiveFeed> logger)
    {
        _redis = redis;
        _logger = logger;
    }

    /// <summary>Times the feed re-read the log after its subscription connection came back (<c>sluice_store_resubscribes_total</c>).</summary>
    public long Resubscribes => Interlocked.Read(ref _resubscribes);

    /// <summary>Streams this node holds a channel subscription for.</summary>
    public int Subscriptions
    {
        get
        {
            lock (_channels)
            {
                return _channels.Count;
            }
        }
    }

    public void Announce(StreamKey key, IReadOnlyList<StoredEvent> events) => _listeners.Deliver(key, events);

    public async ValueTask<IDisposable> ListenAsync(StreamKey key, ILiveListener listener, CancellationToken cancellationToken)
    {
        var registration = new Registration(this, key, listener);
        _listeners.Add(key, listener);
        Channel? channel;
        lock (_channels)
        {
            // Listens and unlistens come once per stream per node: a lock is simpler than a lock-free dance.
            if (!_channels.TryGetValue(key, out channel))
            {
                channel = new Channel(this, key);
                _channels[key] = channel;
                channel.Start();
            }

            channel.Users++;
        }

        try
        {
            await channel.Subscribed.WaitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            registration.Dispose();
            throw;
        }

        return registration;
    }

    private void Unlisten(StreamKey key, ILiveListener listener)
    {
        _listeners.Remove(key, listener);
        lock (_channels)
        {
            if (_channels.TryGetValue(key, out var channel) && --channel.Users == 0)
            {
                _channels.Remove(key);
                channel.Close();
            }
        }
    }

    private async Task HookAsync()
    {
        if (Interlocked.Exchange(ref _hooked, 1) == 0)
        {
            var multiplexer = await _redis.MultiplexerAsync();
            multiplexer.ConnectionRestored += OnConnectionRestored;
        }
    }

    private void OnConnectionRestored(object? sender, ConnectionFailedEventArgs e)
    {
        // StackExchange.Redis resubscribes by itself; what was published while the connection was down is lost.
        StreamKey[] keys;
        lock (_channels)
        {
            keys = [.. _channels.Keys];
        }

        if (e.ConnectionType == ConnectionType.Subscription)
        {
            Interlocked.Increment(ref _resubscribes);
        }

        foreach (var key in keys)
        {
            _listeners.Missed(key);
        }

        LogRestored(_logger, e.ConnectionType.ToString(), keys.Length);
    }

    /// <summary>
    /// For a subscription found dead (the probe's own channel stopped hearing itself while commands still work):
    /// every stream's channel is subscribed again and its listeners read the log for what they missed.
    /// </summary>
    public async Task ResubscribeAllAsync()
    {
        Channel[] channels;
        lock (_channels)
        {
            channels = [.. _channels.Values];
        }

        Interlocked.Increment(ref _resubscribes);
        foreach (var channel in channels)
        {
            await channel.RestartAsync();
        }

        LogResubscribedAll(_logger, channels.Length);
    }

    public async ValueTask DisposeAsync()
    {
        Channel[] channels;
        lock (_channels)
        {
            channels = [.. _channels.Values];
            _channels.Clear();
        }

        foreach (var channel in channels)
        {
            channel.Close();
        }

        if (_redis.IsConnected)
        {
            (await _redis.MultiplexerAsync()).ConnectionRestored -= OnConnectionRestored;
        }
    }

    /// <summary>One stream's subscription on this node, shared by its listeners (in practice one: the hub's fan-out).</summary>
    private sealed class Channel
    {
        private readonly RedisLiveFeed _feed;
        private readonly StreamKey _key;
        private readonly TaskCompletionSource _subscribed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly CancellationTokenSource _closed = new();
        private ChannelMessageQueue? _queue;

        public Channel(RedisLiveFeed feed, StreamKey key)
        {
            _feed = feed;
            _key = key;
        }

        /// <summary>Listeners of the stream on this node; guarded by the feed's lock.</summary>
        public int Users { get; set; }

        public Task Subscribed => _subscribed.Task;

        public void Start() => _ = SubscribeAsync(missed: false);

        public async Task RestartAsync()
        {
            if (_queue is { } queue)
            {
                _queue = null;
                try
                {
                    await queue.UnsubscribeAsync();
                }
                catch (Exception ex) when (ex is RedisException or TimeoutException)
                {
                    // Dead already: the subscribe below replaces it either way.
                }
            }

            await SubscribeAsync(missed: true);
        }

        private async Task SubscribeAsync(bool missed)
        {
            var delay = TimeSpan.FromMilliseconds(100);
            var failed = missed;
            while (!_closed.IsCancellationRequested)
            {
                try
                {
                    await _feed.HookAsync();
                    var multiplexer = await _feed._redis.MultiplexerAsync();
                    var queue = await multiplexer.GetSubscriber().SubscribeAsync(_feed._redis.Keys.Live(_key));
                    queue.OnMessage(OnMessage);
                    _queue = queue;
                    if (_closed.IsCancellationRequested)
                    {
                        await queue.UnsubscribeAsync();
                    }

                    _subscribed.TrySetResult();
                    if (failed)
                    {
                        // Announcements made while Redis was unreachable went nowhere: read them from the log.
                        _feed._listeners.Missed(_key);
                    }

                    return;
                }
                catch (Exception ex) when (ex is RedisException or TimeoutException or StoreStartupException)
                {
                    // Do not hold the subscriber's join: it reads the log and heartbeats meanwhile, and is told to
                    // read the log again once the subscription stands.
                    failed = true;
                    _subscribed.TrySetResult();
                    LogSubscribeFailed(_feed._logger, _key.ToString(), ex.Message);
                    try
                    {
                        await Task.Delay(delay, _closed.Token);
                    }
                    catch (OperationCanceledException)
                    {
                        return;
                    }

                    delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
                }
            }
        }

        private void OnMessage(ChannelMessage message)
        {
            if (RedisEventLog.ParseAnnouncement((string)message.Message!) is { } events)
            {
                _feed._listeners.Deliver(_key, events);
            }
        }

        public void Close()
        {
            _closed.Cancel();
            if (_queue is { } queue)
            {
                _ = queue.UnsubscribeAsync(CommandFlags.FireAndForget);
            }
        }
    }

    private sealed class Registration(RedisLiveFeed feed, StreamKey key, ILiveListener listener) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                feed.Unlisten(key, listener);
            }
        }
    }

    [LoggerMessage(EventId = 3110, Level = LogLevel.Warning, Message = "Redis {Connection} connection restored; {Streams} streams read the log for what pub/sub missed")]
    private static partial void LogRestored(ILogger logger, string connection, int streams);

    [LoggerMessage(EventId = 3112, Level = LogLevel.Warning, Message = "Redis pub/sub subscription found dead by the probe; {Streams} streams subscribed again and read the log for what they missed")]
    private static partial void LogResubscribedAll(ILogger logger, int streams);

    [LoggerMessage(EventId = 3111, Level = LogLevel.Warning, Message = "Redis subscribe for {Stream} failed ({Error}); retrying")]
    private static partial void LogSubscribeFailed(ILogger logger, string stream, string error);
}
