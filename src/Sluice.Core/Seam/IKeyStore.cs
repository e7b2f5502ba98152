namespace Sluice.Tenancy;

/// <summary>Shared state for identity: API keys and the token signing secret. One per store backend.</summary>
internal interface IKeyStore
{
    ValueTask AddAsync(ApiKeyRecord key, CancellationToken cancellationToken);

    ValueTask<ApiKeyRecord?> FindByHashAsync(string hash, CancellationToken cancellationToken);

    ValueTask<ApiKeyRecord?> FindByIdAsync(string id, CancellationToken cancellationToken);

    /// <summary>Keys of one tenant, or of all tenants when <paramref name="tenant"/> is null; oldest first.</summary>
    ValueTask<IReadOnlyList<ApiKeyRecord>> ListAsync(string? tenant, CancellationToken cancellationToken);

    /// <summary>Marks the key revoked; false when no such key exists or it was already revoked.</summary>
    ValueTask<bool> RevokeAsync(string id, DateTimeOffset at, CancellationToken cancellationToken);

    ValueTask<bool> AnyAsync(CancellationToken cancellationToken);

    /// <summary>Returns the named secret, creating it with <paramref name="create"/> if absent (first writer wins).</summary>
    ValueTask<byte[]> GetOrAddSecretAsync(string name, Func<byte[]> create, CancellationToken cancellationToken);
}
