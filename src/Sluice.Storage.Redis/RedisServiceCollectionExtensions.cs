using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Sluice.Audit;
using Sluice.Configuration;
using Sluice.Fanout;
using Sluice.Generations;
using Sluice.Ops;
using Sluice.Resilience;
using Sluice.Streams;
using Sluice.Tenancy;

namespace Sluice.Storage.Redis;

public static class RedisServiceCollectionExtensions
{
    /// <summary>
    /// Every store on Redis (<c>Sluice:Redis</c>, a StackExchange.Redis connection string): events, live feed,
    /// keys, generations, prompts, idempotency, audit, traces, ops rows and kill-switches.
    /// </summary>
    public static SluiceBuilder AddRedisStore(this SluiceBuilder builder)
    {
        var services = builder.Services;
        services.TryAddSingleton(sp =>
        {
            var options = sp.GetRequiredService<IOptions<SluiceOptions>>().Value;
            try
            {
                return new RedisConnection(options.Redis ?? throw new InvalidOperationException("Sluice:Redis is not set."), options.RedisKeyPrefix, sp.GetRequiredService<ILogger<RedisConnection>>());
            }
            catch (ArgumentException ex)
            {
                // A malformed connection string is the operator's to fix: the one-line start refusal, not a stack trace.
                throw new StoreStartupException($"Sluice:Redis is not a valid StackExchange.Redis connection string: {ex.Message}");
            }
        });
        services.TryAddSingleton<IEventLog, RedisEventLog>();
        services.TryAddSingleton<IKeyStore, RedisKeyStore>();
        services.TryAddSingleton<IGenerationStore, RedisGenerationStore>();
        services.TryAddSingleton<IPromptStore, RedisPromptStore>();
        services.TryAddSingleton<IAuditLog, RedisAuditLog>();
        services.TryAddSingleton<ITraceLog, RedisTraceLog>();
        services.TryAddSingleton<IOpsMetricsStore, RedisOpsMetricsStore>();
        services.TryAddSingleton<IOpsIdempotencyStore, RedisOpsIdempotencyStore>();
        services.TryAddSingleton<IKillSwitchStore, RedisKillSwitchStore>();
        services.Replace(ServiceDescriptor.Singleton<IGenerationLeases, RedisGenerationLeases>());
        services.Replace(ServiceDescriptor.Singleton<Cluster.INodeRegistry, RedisNodeRegistry>());
        services.Replace(ServiceDescriptor.Singleton<Cluster.IControlBus, RedisControlBus>());
        services.Replace(ServiceDescriptor.Singleton<Protection.IRequestRateStore, RedisRequestRates>());
        services.TryAddSingleton<RedisLiveFeed>();
        services.Replace(ServiceDescriptor.Singleton<ILiveFeed>(sp => sp.GetRequiredService<RedisLiveFeed>()));
        services.Replace(ServiceDescriptor.Singleton<IStoreFaults, RedisStoreFaults>());
        services.Replace(ServiceDescriptor.Singleton<IStoreStartupCheck, RedisStartupCheck>());
        services.TryAddSingleton<RedisStoreProbe>();
        services.Replace(ServiceDescriptor.Singleton<IStoreStatus>(sp => sp.GetRequiredService<RedisStoreProbe>()));
        services.AddHostedService(sp => sp.GetRequiredService<RedisStoreProbe>());
        return builder;
    }
}
