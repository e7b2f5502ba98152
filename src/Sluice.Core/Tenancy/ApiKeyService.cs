using System.Security.Cryptography;
using System.Text;

namespace Sluice.Tenancy;

/// <summary>Creates, checks and revokes API keys. Secrets are random, shown once, and stored as SHA-256.</summary>
public sealed class ApiKeyService
{
    private readonly IKeyStore _store;
    private readonly TimeProvider _time;

    public ApiKeyService(IKeyStore store, TimeProvider time)
    {
        _store = store;
        _time = time;
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

        var key = await _store.FindByHashAsync(Hash(secret), cancellationToken);
        return key is not null && key.IsActive(_time.GetUtcNow()) ? key : null;
    }

    public async ValueTask<bool> IsActiveAsync(string id, CancellationToken cancellationToken)
    {
        var key = await _store.FindByIdAsync(id, cancellationToken);
        return key is not null && key.IsActive(_time.GetUtcNow());
    }

    public ValueTask<IReadOnlyList<ApiKeyRecord>> ListAsync(string? tenant, CancellationToken cancellationToken) =>
        _store.ListAsync(tenant, cancellationToken);

    public ValueTask<ApiKeyRecord?> FindAsync(string id, CancellationToken cancellationToken) => _store.FindByIdAsync(id, cancellationToken);

    public ValueTask<bool> RevokeAsync(string id, CancellationToken cancellationToken) =>
        _store.RevokeAsync(id, _time.GetUtcNow(), cancellationToken);

    /// <summary>SHA-256 is enough: keys are 256-bit random secrets, not passwords, so there is nothing to brute-force.</summary>
    public static string Hash(string secret) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));

    internal static string Base64Url(ReadOnlySpan<byte> bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
