using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Sluice.Configuration;
using Sluice.Http;
using Sluice.Storage.Redis;
using Sluice.Storage.Sqlite;

namespace Sluice.Server;

/// <summary>Builds the Sluice web application: configuration, the chosen store, the HTTP surface.</summary>
public static class SluiceHost
{
    public const string DefaultUrl = "http://127.0.0.1:8080";

    /// <summary>
    /// Checks that the store can be used as configured, before the host starts; throws
    /// <see cref="StoreStartupException"/> (one line for the operator) when it cannot.
    /// </summary>
    public static Task CheckStoreAsync(WebApplication app, CancellationToken cancellationToken = default) =>
        app.Services.GetRequiredService<Sluice.Storage.IStoreStartupCheck>().CheckAsync(cancellationToken).AsTask();

    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(args);
        if (string.IsNullOrEmpty(builder.Configuration["urls"]))
        {
            builder.WebHost.UseUrls(DefaultUrl);
        }

        builder.Logging.AddSluiceLogRedaction().AddSluiceLogFormat(builder.Configuration);
        var sluice = SluiceOptions.From(builder.Configuration);
        if (sluice.Transport.InlineScheduling)
        {
            // Socket continuations run inline instead of through Kestrel's IO queues: one dispatch less per flush.
            builder.WebHost.UseSockets(o => o.UnsafePreferInlineScheduling = true);
        }

        AddStore(builder.Services.AddSluice(builder.Configuration), sluice);
        configure?.Invoke(builder);

        var app = builder.Build();
        app.UseSluice();
        app.MapSluice();
        return app;
    }

    private static void AddStore(SluiceBuilder sluice, SluiceOptions options)
    {
        switch (options.Store.ToLowerInvariant())
        {
            case "memory":
                sluice.AddMemoryStore();
                break;
            case "redis":
                sluice.AddRedisStore();
                break;
            default:
                // Unknown values fall through to the validator, which names the key at start.
                sluice.AddSqliteStore();
                break;
        }
    }
}
