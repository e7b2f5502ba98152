using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Sluice.Configuration;
using Sluice.Diagnostics;
using Sluice.Fanout;
using Sluice.Generations;
using Sluice.Storage;
using Sluice.Streams;
using Sluice.Tenancy;

namespace Sluice;

/// <summary>Registers the hub and its seams. Backends replace the memory defaults with <c>Add*EventLog()</c>.</summary>
public static class SluiceCoreServiceCollectionExtensions
{
    public static IServiceCollection AddSluiceCore(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<SluiceOptions>().Bind(configuration.GetSection(SluiceOptions.SectionName)).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<SluiceOptions>, SluiceOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<ILiveFeed, InProcessLiveFeed>();
        services.TryAddSingleton<Storage.IStoreFaults, Storage.EmbeddedStoreFaults>();
        services.TryAddSingleton<Storage.IStoreStatus, Storage.EmbeddedStoreStatus>();
        services.TryAddSingleton<Storage.IStoreStartupCheck, Storage.EmbeddedStoreStartupCheck>();
        services.TryAddSingleton<RecentEventsCache>();
        services.TryAddSingleton<SluiceMetrics>();
        services.TryAddSingleton<StreamHub>();
        services.AddHostedService<SluiceLifecycle>();
        services.TryAddSingleton<Protection.RuntimeControls>();
        services.TryAddSingleton<Protection.TenantQuotas>();
        services.TryAddSingleton<ApiKeyService>();
        services.TryAddSingleton<AccessTokenService>();
        services.TryAddSingleton<Resilience.ProviderResilience>();
        services.AddResilienceEnricher();
        services.AddOptions<Polly.Telemetry.TelemetryOptions>().Configure<Microsoft.Extensions.Logging.ILoggerFactory>((o, loggers) =>
        {
            o.LoggerFactory = loggers;
            // The executor already logs each failed attempt with its generation; Polly's own lines stay quieter,
            // except the circuit opening, which an operator wants to see.
            o.SeverityProvider = args => args.Event.EventName switch
            {
                "OnCircuitOpened" => Polly.Telemetry.ResilienceEventSeverity.Warning,
                "OnCircuitClosed" or "OnCircuitHalfOpened" => Polly.Telemetry.ResilienceEventSeverity.Information,
                _ => Polly.Telemetry.ResilienceEventSeverity.Debug,
            };
        });
        services.TryAddSingleton<Ops.TraceRecorder>();
        services.TryAddSingleton<Ops.OpsMetricsAggregator>();
        services.TryAddSingleton<Ops.OpsMetricsFlusher>();
        services.AddHostedService(sp => sp.GetRequiredService<Ops.OpsMetricsFlusher>());
        services.TryAddSingleton<GenerationFinisher>();
        services.TryAddSingleton<GenerationExecutor>();
        services.TryAddSingleton<Cluster.IControlBus, Cluster.LocalControlBus>();
        services.TryAddSingleton<Cluster.ControlSync>();
        services.AddHostedService(sp => sp.GetRequiredService<Cluster.ControlSync>());
        services.TryAddSingleton<Cluster.NodeIdentity>();
        services.TryAddSingleton<Cluster.INodeRegistry, Cluster.MemoryNodeRegistry>();
        services.TryAddSingleton<Cluster.NodeRegistration>();
        services.AddHostedService(sp => sp.GetRequiredService<Cluster.NodeRegistration>());
        services.TryAddSingleton<IGenerationLeases, LocalGenerationLeases>();
        services.TryAddSingleton<LeaseKeeper>();
        services.AddHostedService(sp => sp.GetRequiredService<LeaseKeeper>());
        services.TryAddSingleton(sp => new GenerationRunner(
            sp.GetRequiredService<GenerationExecutor>(), sp.GetRequiredService<GenerationFinisher>(), sp.GetRequiredService<StreamHub>(),
            sp.GetRequiredService<IOptionsMonitor<SluiceOptions>>(), sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<Protection.RuntimeControls>(), sp.GetRequiredService<Protection.TenantQuotas>(),
            sp.GetRequiredService<Microsoft.Extensions.Logging.ILogger<GenerationRunner>>(), sp.GetRequiredService<IGenerationLeases>(), sp.GetRequiredService<LeaseKeeper>()));
        services.AddHostedService(sp => sp.GetRequiredService<GenerationRunner>());
        services.AddHostedService<GenerationReaper>();
        services.TryAddSingleton<GenerationService>();
        services.AddHostedService<KeyBootstrapper>();
        services.AddHostedService<CredentialRevocations>();
        services.AddHostedService<Resilience.KillSwitchRestorer>();
        services.AddHostedService<HeartbeatService>();
        services.AddHostedService<RetentionService>();
        return services;
    }

    /// <summary>The in-process store: nothing survives a restart.</summary>
    public static SluiceBuilder AddMemoryStore(this SluiceBuilder builder)
    {
        builder.Services.AddMemoryEventLog();
        return builder;
    }

    /// <summary>The in-process store: nothing survives a restart.</summary>
    public static IServiceCollection AddMemoryEventLog(this IServiceCollection services)
    {
        services.TryAddSingleton<IEventLog, MemoryEventLog>();
        services.TryAddSingleton<IKeyStore, MemoryKeyStore>();
        services.TryAddSingleton<IGenerationStore, MemoryGenerationStore>();
        services.TryAddSingleton<IPromptStore, MemoryPromptStore>();
        services.TryAddSingleton<Audit.IAuditLog, MemoryAuditLog>();
        services.TryAddSingleton<Ops.ITraceLog, MemoryTraceLog>();
        services.TryAddSingleton<Ops.IOpsMetricsStore, MemoryOpsMetricsStore>();
        services.TryAddSingleton<Ops.IOpsIdempotencyStore, MemoryOpsIdempotencyStore>();
        services.TryAddSingleton<Resilience.IKillSwitchStore, MemoryKillSwitchStore>();
        return services;
    }
}
