using System.Text.Json;
using Sluice.Tenancy;
using StackExchange.Redis;

namespace Sluice.Storage.Redis;

/// <summary>
/// API keys: a hash id → JSON, a hash of secret hashes → id for the lookup every request makes, and per tenant a
/// sorted set by creation time for listing. Secrets (the token signing key) in a hash of their own, first writer wins.
/// </summary>
internal sealed class RedisKeyStore(RedisConnection redis) : IKeyStore
{
    private readonly RedisKey _byId = redis.Keys.Named("{keys}:id");
    private readonly RedisKey _byHash = redis.Keys.Named("{keys}:hash");
    private readonly RedisKey _secrets = redis.Keys.Named("{keys}:secrets");
    private readonly string _tenantPrefix = redis.Keys.Named("{keys}:tenant:");

    // KEYS: by id, by hash, tenant index. ARGV: id, hash, json, created (ms). Refuses an id that exists.
    private const string AddScript = """
        if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[3]) == 0 then return 0 end
        redis.call('HSET', KEYS[2], ARGV[2], ARGV[1])
        redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])
        return 1
        """;

    public async ValueTask AddAsync(ApiKeyRecord key, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var db = await redis.DatabaseAsync();
        var json = JsonSerializer.Serialize(key, StoreJson.Default.ApiKeyRecord);
        var added = (long)await db.ScriptEvaluateAsync(AddScript, [_byId, _byHash, Tenant(key.Tenant)], [key.Id, key.Hash, json, key.CreatedAt.ToUnixTimeMilliseconds()]);
        if (added == 0)
        {
            throw new InvalidOperationException("A key with this id exists.");
        }
    }

    public async ValueTask<ApiKeyRecord?> FindByHashAsync(string hash, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var db = await redis.DatabaseAsync();
        var id = await db.HashGetAsync(_byHash, hash);
        return id.IsNull ? null : await FindByIdAsync(id!, cancellationToken);
    }

    public async ValueTask<ApiKeyRecord?> FindByIdAsync(string id, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var db = await redis.DatabaseAsync();
        var json = await db.HashGetAsync(_byId, id);
        return json.IsNull ? null : Parse(json);
    }

    public async ValueTask<IReadOnlyList<ApiKeyRecord>> ListAsync(string? tenant, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var db = await redis.DatabaseAsync();
        IEnumerable<ApiKeyRecord> keys;
        if (tenant is null)
        {
            keys = (await db.HashValuesAsync(_byId)).Select(Parse);
        }
        else
        {
            var ids = await db.SortedSetRangeByRankAsync(Tenant(tenant));
            keys = ids.Length == 0 ? [] : (await db.HashGetAsync(_byId, ids)).Where(v => !v.IsNull).Select(Parse);
        }

        return [.. keys.OrderBy(k => k.CreatedAt).ThenBy(k => k.Id, StringComparer.Ordinal)];
    }

    public async ValueTask<bool> RevokeAsync(string id, DateTimeOffset at, CancellationToken cancellationToken)
    {
        var db = await redis.DatabaseAsync();
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var json = await db.HashGetAsync(_byId, id);
            if (json.IsNull || Parse(json) is not { RevokedAt: null } key)
            {
                return false;
            }

            // Optimistic: the write goes through only if nobody changed the record since it was read.
            var transaction = db.CreateTransaction();
            transaction.AddCondition(Condition.HashEqual(_byId, id, json));
            _ = transaction.HashSetAsync(_byId, id, JsonSerializer.Serialize(key with { RevokedAt = at }, StoreJson.Default.ApiKeyRecord));
            if (await transaction.ExecuteAsync())
            {
                return true;
            }
        }
    }

    public async ValueTask<bool> AnyAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var db = await redis.DatabaseAsync();
        return await db.HashLengthAsync(_byId) > 0;
    }

    public async ValueTask<byte[]> GetOrAddSecretAsync(string name, Func<byte[]> create, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var db = await redis.DatabaseAsync();
        var existing = await db.HashGetAsync(_secrets, name);
        if (!existing.IsNull)
        {
            return (byte[])existing!;
        }

        await db.HashSetAsync(_secrets, name, create(), When.NotExists);
        return (byte[])(await db.HashGetAsync(_secrets, name))!;
    }

    private RedisKey Tenant(string tenant) => _tenantPrefix + tenant;

    private static ApiKeyRecord Parse(RedisValue json) => JsonSerializer.Deserialize((string)json!, StoreJson.Default.ApiKeyRecord)!;
}
