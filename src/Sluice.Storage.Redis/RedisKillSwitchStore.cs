using System.Text.Json;
using Sluice.Resilience;
using StackExchange.Redis;

namespace Sluice.Storage.Redis;

/// <summary>Kill-switches in one hash, provider → JSON (one field per configured provider, so it stays small); reads filter out the expired.</summary>
internal sealed class RedisKillSwitchStore(RedisConnection redis) : IKillSwitchStore
{
    private readonly RedisKey _key = redis.Keys.Named("{killswitch}");

    public async ValueTask SetAsync(string provider, KillSwitch? kill, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var db = await redis.DatabaseAsync();
        if (kill is null)
        {
            await db.HashDeleteAsync(_key, provider);
        }
        else
        {
            await db.HashSetAsync(_key, provider, JsonSerializer.Serialize(kill, StoreJson.Default.KillSwitch));
        }
    }

    public async ValueTask<IReadOnlyDictionary<string, KillSwitch>> ActiveAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var db = await redis.DatabaseAsync();
        var active = new Dictionary<string, KillSwitch>(StringComparer.Ordinal);
        foreach (var entry in await db.HashGetAllAsync(_key))
        {
            var kill = JsonSerializer.Deserialize((string)entry.Value!, StoreJson.Default.KillSwitch)!;
            if (kill.ExpiresAt > now)
            {
                active[(string)entry.Name!] = kill;
            }
        }

        return active;
    }
}
