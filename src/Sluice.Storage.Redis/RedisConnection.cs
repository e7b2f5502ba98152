using Microsoft.Extensions.Logging;
using Sluice.Configuration;
using StackExchange.Redis;

namespace Sluice.Storage.Redis;

/// <summary>
/// The one multiplexer every Redis store shares (StackExchange.Redis is built to be shared: one socket,
/// pipelined). Connects on first use, not in the constructor, and checks the server once: a Redis that may
/// evict keys is refused (an evicted meta key would reset a stream's ids, centrifugo#888), one without
/// append-only persistence is warned about.
/// </summary>
internal sealed partial class RedisConnection : IAsyncDisposable
{
    private readonly ConfigurationOptions _configuration;
    private readonly ILogger _logger;
    private readonly object _gate = new();
    private Task<ConnectionMultiplexer>? _connect;
    private volatile ConnectionMultiplexer? _connected;

    public RedisConnection(string configuration, string prefix, ILogger<RedisConnection> logger)
    {
        _configuration = ConfigurationOptions.Parse(configuration);

        // Keep trying in the background after a failed first connect: the node starts, reports not ready, and
        // recovers when Redis comes, without a restart.
        _configuration.AbortOnConnectFail = false;
        _configuration.ClientName ??= "sluice";

        // While Redis is unreachable a command fails at once (503 store_unavailable, Retry-After) instead of
        // waiting in the backlog for a connection until its timeout.
        _configuration.BacklogPolicy = BacklogPolicy.FailFast;
        _logger = logger;
        Keys = new RedisKeys(prefix);
    }

    public RedisKeys Keys { get; }

    /// <summary>
    /// The connected multiplexer; the first call connects and checks the server. A connect that failed is tried
    /// again by the next call (Redis may come later than Sluice); a refused server stays refused.
    /// </summary>
    public ValueTask<ConnectionMultiplexer> MultiplexerAsync()
    {
        if (_connected is { } connected)
        {
            return ValueTask.FromResult(connected);
        }

        lock (_gate)
        {
            if (_connect is null || (_connect.IsFaulted && _connect.Exception?.InnerException is not StoreStartupException))
            {
                _connect = ConnectAsync();
            }

            return new ValueTask<ConnectionMultiplexer>(_connect);
        }
    }

    /// <summary>True once the first connect (and the server check) succeeded.</summary>
    public bool IsConnected => _connected is not null;

    public async ValueTask<IDatabase> DatabaseAsync() => (await MultiplexerAsync()).GetDatabase();

    private async Task<ConnectionMultiplexer> ConnectAsync()
    {
        var multiplexer = await ConnectionMultiplexer.ConnectAsync(_configuration);
        try
        {
            await CheckServerAsync();
        }
        catch
        {
            await multiplexer.DisposeAsync();
            throw;
        }

        _connected = multiplexer;
        return multiplexer;
    }

    private async Task CheckServerAsync()
    {
        // INFO rather than CONFIG GET, which managed Redis often renames away. StackExchange.Redis counts both as
        // admin commands: a short-lived multiplexer with allowAdmin reads them, the shared one stays without it.
        var admin = _configuration.Clone();
        admin.AllowAdmin = true;
        await using var check = await ConnectionMultiplexer.ConnectAsync(admin);
        string? policy = null;
        string? aof = null;
        try
        {
            foreach (var endpoint in check.GetEndPoints())
            {
                var server = check.GetServer(endpoint);
                foreach (var group in await server.InfoAsync("memory").ConfigureAwait(false))
                {
                    policy ??= group.FirstOrDefault(p => p.Key == "maxmemory_policy").Value;
                }

                foreach (var group in await server.InfoAsync("persistence").ConfigureAwait(false))
                {
                    aof ??= group.FirstOrDefault(p => p.Key == "aof_enabled").Value;
                }
            }
        }
        catch (RedisServerException ex)
        {
            LogConfigUnreadable(_logger, ex.Message);
        }

        if (policy is not null && policy != "noeviction")
        {
            throw new StoreStartupException(
                $"Redis maxmemory-policy is '{policy}'; Sluice needs maxmemory-policy noeviction (an evicted key loses acknowledged events or reuses ids): run CONFIG SET maxmemory-policy noeviction, or set it in redis.conf.");
        }

        if (aof == "0")
        {
            LogNoAppendOnly(_logger);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_connected is { } connected)
        {
            await connected.DisposeAsync();
        }
    }

    [LoggerMessage(EventId = 3101, Level = LogLevel.Warning, Message = "Redis append-only persistence is off (appendonly no): a Redis restart loses what was acknowledged since its last snapshot, and those streams end with store_lost_events. Set appendonly yes with appendfsync everysec (about 1 s at risk on a host crash) or always (nothing).")]
    private static partial void LogNoAppendOnly(ILogger logger);

    [LoggerMessage(EventId = 3102, Level = LogLevel.Warning, Message = "Redis INFO is not allowed ({Error}); make sure maxmemory-policy is noeviction and append-only persistence is on")]
    private static partial void LogConfigUnreadable(ILogger logger, string error);
}
