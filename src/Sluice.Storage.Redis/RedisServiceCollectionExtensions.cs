using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Sluice.Configuration;
using Sluice.Fanout;
using Sluice.Streams;

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
        services.TryAddSingleton(sp => new RedisConnection(
            sp.GetRequiredService<IOptions<SluiceOptions>>().Value.Redis ?? throw new InvalidOperationException("Sluice:Redis is not set."),
            "sluice",
            sp.GetRequiredService<ILogger<RedisConnection>>()));
        services.TryAddSingleton<IEventLog, RedisEventLog>();
        services.TryAddSingleton<RedisLiveFeed>();
        services.Replace(ServiceDescriptor.Singleton<ILiveFeed>(sp => sp.GetRequiredService<RedisLiveFeed>()));
        return builder;
    }
}
