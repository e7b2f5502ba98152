using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Sluice.Generations;
using Sluice.Streams;
using Sluice.Tenancy;

namespace Sluice.Storage.Sqlite;

public static class SqliteServiceCollectionExtensions
{
    /// <summary>The embedded default store: events, keys and secrets in <c>{Sluice:DataDir}/sluice.db</c>.</summary>
    public static SluiceBuilder AddSqliteStore(this SluiceBuilder builder)
    {
        builder.Services.AddSqliteEventLog();
        return builder;
    }

    /// <summary>The embedded default store: events, keys and secrets in <c>{Sluice:DataDir}/sluice.db</c>.</summary>
    public static IServiceCollection AddSqliteEventLog(this IServiceCollection services)
    {
        services.TryAddSingleton<SqliteDatabase>();
        services.TryAddSingleton<IEventLog, SqliteEventLog>();
        services.TryAddSingleton<IKeyStore, SqliteKeyStore>();
        services.TryAddSingleton<IGenerationStore, SqliteGenerationStore>();
        services.TryAddSingleton<IPromptStore, SqlitePromptStore>();
        services.TryAddSingleton<Sluice.Audit.IAuditLog, SqliteAuditLog>();
        services.TryAddSingleton<Sluice.Ops.ITraceLog, SqliteTraceLog>();
        services.TryAddSingleton<Sluice.Ops.IOpsMetricsStore, SqliteOpsMetricsStore>();
        services.TryAddSingleton<Sluice.Ops.IOpsIdempotencyStore, SqliteOpsIdempotencyStore>();
        services.TryAddSingleton<Sluice.Resilience.IKillSwitchStore, SqliteKillSwitchStore>();
        return services;
    }
}
