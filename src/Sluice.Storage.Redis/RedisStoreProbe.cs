using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Sluice.Configuration;
using StackExchange.Redis;

namespace Sluice.Storage.Redis;

/// <summary>
/// Probes Redis every second: a PING for <c>sluice_store_up</c>, and a PUBLISH on a channel only this node subscribes
/// to, for the subscription itself. PUBLISH answers how many subscribers received it, so a subscription that died
/// without its connection dropping (nchan#371, centrifugo#1189: health stayed green while nothing was delivered)
/// shows as 0 receivers, or as the probe not hearing its own messages, while commands still work. Then every
/// stream's channel is subscribed again and its listeners read the log.
/// </summary>
internal sealed partial class RedisStoreProbe(RedisConnection redis, RedisLiveFeed feed, IStoreFaults faults, TimeProvider time, ILogger<RedisStoreProbe> logger)
    : BackgroundService, IStoreStatus
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    /// <summary>Probes in a row that found the subscription dead before it is replaced (the first after a subscribe may race it).</summary>
    private const int DeadAfter = 3;

    private readonly RedisChannel _channel = RedisChannel.Literal(redis.Keys.Named("probe:" + Guid.NewGuid().ToString("N")));
    private volatile bool _up;
    private ChannelMessageQueue? _queue;
    private long _sent;
    private long _heard;
    private int _deadProbes;

    public bool IsUp => _up;

    public long Resubscribes => feed.Resubscribes;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, time);
        do
        {
            await ProbeAsync();
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    /// <summary>One probe (the service runs one per <see cref="Interval"/>; tests call it directly).</summary>
    internal async Task ProbeAsync()
    {
        try
        {
            var multiplexer = await redis.MultiplexerAsync();
            await multiplexer.GetDatabase().PingAsync();
            _up = true;
            if (_queue is null)
            {
                var queue = await multiplexer.GetSubscriber().SubscribeAsync(_channel);
                queue.OnMessage(m => Interlocked.Exchange(ref _heard, (long)m.Message));
                _queue = queue;
                return;
            }

            var receivers = await multiplexer.GetDatabase().PublishAsync(_channel, ++_sent);
            var heardLast = Interlocked.Read(ref _heard) >= _sent - 1;
            _deadProbes = receivers == 0 || !heardLast ? _deadProbes + 1 : 0;
            if (_deadProbes >= DeadAfter)
            {
                _deadProbes = 0;
                await RestartAsync();
            }
        }
        catch (Exception ex) when (faults.IsUnavailable(ex) || ex is StoreStartupException or RedisException)
        {
            if (_up)
            {
                LogDown(ex.Message);
            }

            _up = false;
            _deadProbes = 0;
        }
    }

    private async Task RestartAsync()
    {
        if (_queue is { } old)
        {
            _queue = null;
            try
            {
                await old.UnsubscribeAsync();
            }
            catch (RedisException)
            {
                // Replaced below either way.
            }
        }

        _heard = _sent;
        await feed.ResubscribeAllAsync();
    }

    public override void Dispose()
    {
        _queue?.Unsubscribe(CommandFlags.FireAndForget);
        base.Dispose();
    }

    [LoggerMessage(EventId = 3130, Level = LogLevel.Warning, Message = "Redis is unreachable ({Error}): sluice_store_up is 0 until it answers")]
    private partial void LogDown(string error);
}
