using Sluice.Configuration;
using StackExchange.Redis;

namespace Sluice.Storage.Redis;

/// <summary>Connects once before the host starts, which checks the server (<see cref="RedisConnection"/>): a refusal stops the start.</summary>
internal sealed class RedisStartupCheck(RedisConnection redis) : IStoreStartupCheck
{
    public async ValueTask CheckAsync(CancellationToken cancellationToken)
    {
        try
        {
            await redis.MultiplexerAsync().AsTask().WaitAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is RedisConnectionException or RedisTimeoutException)
        {
            throw new StoreStartupException($"Cannot reach Redis (Sluice:Redis): {ex.Message.Split('\n')[0]}");
        }
    }
}
