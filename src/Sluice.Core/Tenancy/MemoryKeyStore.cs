using System.Collections.Concurrent;

namespace Sluice.Tenancy;

/// <summary>Keys in process memory, for <c>Sluice:Store=memory</c> and tests.</summary>
internal sealed class MemoryKeyStore : IKeyStore
{
    private readonly ConcurrentDictionary<string, ApiKeyRecord> _byId = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte[]> _secrets = new(StringComparer.Ordinal);

    public ValueTask AddAsync(ApiKeyRecord key, CancellationToken cancellationToken)
    {
        if (!_byId.TryAdd(key.Id, key))
        {
            throw new InvalidOperationException("A key with this id exists.");
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask<ApiKeyRecord?> FindByHashAsync(string hash, CancellationToken cancellationToken) =>
        ValueTask.FromResult(_byId.Values.FirstOrDefault(k => k.Hash == hash));

    public ValueTask<ApiKeyRecord?> FindByIdAsync(string id, CancellationToken cancellationToken) =>
        ValueTask.FromResult(_byId.GetValueOrDefault(id));

    public ValueTask<IReadOnlyList<ApiKeyRecord>> ListAsync(string? tenant, CancellationToken cancellationToken) =>
        ValueTask.FromResult<IReadOnlyList<ApiKeyRecord>>(
            [.. _byId.Values.Where(k => tenant is null || k.Tenant == tenant).OrderBy(k => k.CreatedAt).ThenBy(k => k.Id, StringComparer.Ordinal)]);

    public ValueTask<bool> RevokeAsync(string id, DateTimeOffset at, CancellationToken cancellationToken)
    {
        while (_byId.TryGetValue(id, out var key))
        {
            if (key.RevokedAt is not null)
            {
                return ValueTask.FromResult(false);
            }

            if (_byId.TryUpdate(id, key with { RevokedAt = at }, key))
            {
                return ValueTask.FromResult(true);
            }
        }

        return ValueTask.FromResult(false);
    }

    public ValueTask<bool> AnyAsync(CancellationToken cancellationToken) => ValueTask.FromResult(!_byId.IsEmpty);

    public ValueTask<byte[]> GetOrAddSecretAsync(string name, Func<byte[]> create, CancellationToken cancellationToken) =>
        ValueTask.FromResult(_secrets.GetOrAdd(name, _ => create()));
}
