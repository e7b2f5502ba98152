using System.Security.Cryptography;
using System.Text;

namespace Sluice.Tenancy;

/// <summary>
/// Creates, checks and revokes API keys. Secrets are random, shown once, and stored as SHA-256.
/// Known keys are cached by hash (every request authenticates, and a store read per request halved the
/// publish rate); a revocation through this service drops the key from the cache at once, and expiry is
/// checked on every use. Across nodes, a revocation is published on the cluster's change bus and every node's
/// ControlSync makes its cache forget the key (see docs/architecture.md).
/// </summary>
internal sealed class ApiKeyService
{
    private const int MaxCached = 100_000;
    private long _revocations;
    private readonly IKeyStore _store;
    private readonly TimeProvider _time;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, ApiKeyRecord> _byHash = new(StringComparer.Ordinal);
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, ApiKeyRecord> _byId = new(StringComparer.Ordinal);

    private readonly Cluster.IControlBus _bus;

    public ApiKeyService(IKeyStore store, TimeProvider time, Cluster.IControlBus? bus = null)
    {
        _store = store;
        _time = time;
        _bus = bus ?? new Cluster.LocalControlBus();
    }

    /// <summary>A new key; the returned secret is the only copy.</summary>
    public async ValueTask<(ApiKeyRecord Record, string Secret)> CreateAsync(
        string tenant, Roles roles, string? name, DateTimeOffset? expiresAt, CancellationToken cancellationToken, string? secret = null)
    {
        secret ??= "sk_" + Base64Url(RandomNumberGenerator.GetBytes(32));
        var record = new ApiKeyRecord(
            "key_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)),
            tenant, roles, name, Hash(secret), _time.GetUtcNow(), expiresAt, null);
        await _store.AddAsync(record, cancellationToken);
        return (record, secret);
    }

    /// <summary>The active key for a presented secret, or null (unknown, revoked or expired).</summary>
    public async ValueTask<ApiKeyRecord?> AuthenticateAsync(string secret, CancellationToken cancellationToken)
    {
        if (secret.Length is 0 or > 512)
        {
            return null;
        }

        var hash = Hash(secret);
        if (!_byHash.TryGetValue(hash, out var key))
        {
            var generation = Volatile.Read(ref _revocations);
            key = await _store.FindByHashAsync(hash, cancellationToken);
            if (key is null)
            {
                return null;
            }

            Remember(key, generation);
        }

        return key.IsActive(_time.GetUtcNow()) ? key : null;
    }

    public async ValueTask<bool> IsActiveAsync(string id, CancellationToken cancellationToken)
    {
        if (!_byId.TryGetValue(id, out var key))
        {
            var generation = Volatile.Read(ref _revocations);
            key = await _store.FindByIdAsync(id, cancellationToken);
            if (key is null)
            {
                return false;
            }

            Remember(key, generation);
        }

        return key.IsActive(_time.GetUtcNow());
    }

    /// <summary>
    /// Caches a record read from the store, unless a revocation happened since the read began: the record
    /// might predate it, and caching it would bring the revoked key back to life.
    /// </summary>
    private void Remember(ApiKeyRecord key, long generation)
    {
        if (_byHash.Count >= MaxCached)
        {
            _byHash.Clear();
            _byId.Clear();
        }

        if (Volatile.Read(ref _revocations) != generation)
        {
            return;
        }

        _byHash[key.Hash] = key;
        _byId[key.Id] = key;
        if (Volatile.Read(ref _revocations) != generation)
        {
            _byHash.TryRemove(key.Hash, out _);
            _byId.TryRemove(key.Id, out _);
        }
    }

    private void Forget(string id)
    {
        Interlocked.Increment(ref _revocations);
        if (_byId.TryRemove(id, out var key))
        {
            _byHash.TryRemove(key.Hash, out _);
        }
    }

    public ValueTask<IReadOnlyList<ApiKeyRecord>> ListAsync(string? tenant, CancellationToken cancellationToken) =>
        _store.ListAsync(tenant, cancellationToken);

    public ValueTask<ApiKeyRecord?> FindAsync(string id, CancellationToken cancellationToken) => _store.FindByIdAsync(id, cancellationToken);

    /// <summary>Raised with the key's id once it is revoked: what was opened with it must end now, not at its next request.</summary>
    public event Action<string>? Revoked;

    public async ValueTask<bool> RevokeAsync(string id, CancellationToken cancellationToken)
    {
        var revoked = await _store.RevokeAsync(id, _time.GetUtcNow(), cancellationToken);
        Forget(id);
        if (revoked)
        {
            Revoked?.Invoke(id);
            await _bus.PublishAsync(Cluster.ControlKinds.Revoke, id, cancellationToken);
        }

        return revoked;
    }

    /// <summary>Another node revoked <paramref name="id"/>: forget it here too, and end what it opened here.</summary>
    internal void ApplyRevoked(string id)
    {
        Forget(id);
        Revoked?.Invoke(id);
    }

    /// <summary>This node missed changes it cannot list: every cached key is read from the store again.</summary>
    internal void ForgetAll()
    {
        Interlocked.Increment(ref _revocations);
        _byHash.Clear();
        _byId.Clear();
    }

    /// <summary>SHA-256 is enough: keys are 256-bit random secrets, not passwords, so there is nothing to brute-force.</summary>
    public static string Hash(string secret) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));

    internal static string Base64Url(ReadOnlySpan<byte> bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
