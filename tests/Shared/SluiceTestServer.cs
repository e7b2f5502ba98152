using System.Net.Http.Headers;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Sluice.Server;

namespace Sluice.Testing;

/// <summary>A real Kestrel on 127.0.0.1, port 0, with its own data directory and a known admin key.</summary>
public sealed class SluiceTestServer : IAsyncDisposable
{
    public const string AdminKey = "sk_test_admin_key_0123456789abcdef";

    private SluiceTestServer(WebApplication app, string dataDir, CapturingLoggerProvider logs)
    {
        App = app;
        DataDir = dataDir;
        Logs = logs;
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        BaseAddress = new Uri(address);
    }

    public WebApplication App { get; }

    public string DataDir { get; }

    public Uri BaseAddress { get; }

    public CapturingLoggerProvider Logs { get; }

    public static async Task<SluiceTestServer> StartAsync(
        string store = "sqlite", IDictionary<string, string>? settings = null, Action<WebApplicationBuilder>? configure = null, string? dataDir = null,
        string? adminKey = AdminKey)
    {
        dataDir ??= Directory.CreateTempSubdirectory("sluice-test-").FullName;
        var args = new List<string>
        {
            "--urls", "http://127.0.0.1:0",
            "--environment", "Production",
            "--Sluice:DataDir", dataDir,
            "--Logging:LogLevel:Default", "Debug",
        };
        if (StoreOverride is "redis" && store is "sqlite" or "memory")
        {
            // One redis-server for the test run; each data directory is a deployment of its own by key prefix, so a
            // test that restarts a server on the same directory finds its data again, as on SQLite.
            var redis = await SharedRedisAsync();
            args.AddRange(["--Sluice:Store", "redis", "--Sluice:Redis", redis.ConnectionString, "--Sluice:RedisKeyPrefix", Path.GetFileName(dataDir)]);
        }
        else
        {
            args.AddRange(["--Sluice:Store", store]);
        }
        if (adminKey is not null)
        {
            args.AddRange(["--Sluice:AdminKey", adminKey]);
        }

        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            args.Add("--" + key);
            args.Add(value);
        }

        var logs = new CapturingLoggerProvider();
        var app = SluiceHost.Build([.. args], builder =>
        {
            builder.Logging.AddProvider(logs);
            configure?.Invoke(builder);
        });
        await SluiceHost.CheckStoreAsync(app);
        await app.StartAsync();
        return new SluiceTestServer(app, dataDir, logs);
    }

    /// <summary>
    /// <c>SLUICE_TEST_STORE=redis</c> runs every server a test starts on the default store (sqlite) or on memory on
    /// Redis instead: the functional suite, once more, on the cluster store (scripts/test.sh).
    /// </summary>
    public static string? StoreOverride { get; } = Environment.GetEnvironmentVariable("SLUICE_TEST_STORE");

    /// <summary>True when this run's servers are on Redis (tests that check a SQLite file skip then).</summary>
    public static bool OnRedis => StoreOverride is "redis";

    private static readonly Lock SharedRedisLock = new();
    private static Task<RedisServer>? _sharedRedis;

    private static Task<RedisServer> SharedRedisAsync()
    {
        lock (SharedRedisLock)
        {
            return _sharedRedis ??= StartSharedRedisAsync();
        }
    }

    private static async Task<RedisServer> StartSharedRedisAsync()
    {
        var redis = await RedisServer.StartAsync();

        // Stopped by the PID it was started with when the test process ends.
        AppDomain.CurrentDomain.ProcessExit += (_, _) => redis.Kill();
        return redis;
    }

    public HttpClient CreateClient(string? key = AdminKey)
    {
        var client = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        if (key is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }

        return client;
    }

    public async ValueTask DisposeAsync()
    {
        await App.StopAsync();
        await App.DisposeAsync();
    }
}

/// <summary>Everything the server logs, at every level, to check that no secret is ever written.</summary>
public sealed class CapturingLoggerProvider : ILoggerProvider
{
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _lines = new();

    public IEnumerable<string> Lines => _lines;

    public ILogger CreateLogger(string categoryName) => new Logger(categoryName, _lines);

    public void Dispose()
    {
    }

    private sealed class Logger(string category, System.Collections.Concurrent.ConcurrentQueue<string> lines) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var structured = state is IEnumerable<KeyValuePair<string, object?>> pairs ? string.Join(";", pairs.Select(p => $"{p.Key}={p.Value}")) : "";
            lines.Enqueue($"{logLevel} {category}: {formatter(state, exception)} {structured} {exception}");
        }
    }
}
