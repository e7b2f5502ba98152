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
            "--Sluice:Store", store,
            "--Sluice:DataDir", dataDir,
            "--Logging:LogLevel:Default", "Debug",
        };
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
