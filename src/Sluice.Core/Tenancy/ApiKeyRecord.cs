namespace Sluice.Tenancy;

/// <summary>A stored API key. Only the SHA-256 of the secret is kept; the secret itself is shown once.</summary>
internal sealed record ApiKeyRecord(
    string Id,
    string Tenant,
    Roles Roles,
    string? Name,
    string Hash,
    DateTimeOffset CreatedAt,
    DateTimeOffset? ExpiresAt,
    DateTimeOffset? RevokedAt)
{
    public bool IsActive(DateTimeOffset now) => RevokedAt is null && (ExpiresAt is null || ExpiresAt > now);
}
