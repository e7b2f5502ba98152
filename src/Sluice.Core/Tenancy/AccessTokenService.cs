using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Sluice.Configuration;

namespace Sluice.Tenancy;

/// <summary>The claims of a browser access token: one tenant, one resource, an expiry, and the key that minted it.</summary>
internal sealed record AccessTokenClaims(string Tenant, string Resource, DateTimeOffset ExpiresAt, string KeyId);

/// <summary>
/// Short-lived HMAC-SHA256 tokens for <c>?access_token=</c>, because browsers cannot set headers on EventSource.
/// Format: base64url(json claims) "." base64url(mac). The secret is shared through the key store, so
/// every node accepts every node's tokens.
/// </summary>
internal sealed class AccessTokenService
{
    private const string SecretName = "access-token-hmac";
    private readonly IKeyStore _store;
    private readonly IOptionsMonitor<SluiceOptions> _options;
    private readonly TimeProvider _time;
    private byte[]? _secret;

    public AccessTokenService(IKeyStore store, IOptionsMonitor<SluiceOptions> options, TimeProvider time)
    {
        _store = store;
        _options = options;
        _time = time;
    }

    public static string StreamResource(string streamId) => "stream:" + streamId;

    public static string GenerationResource(string generationId) => "generation:" + generationId;

    public async ValueTask<(string Token, DateTimeOffset ExpiresAt)> IssueAsync(
        string tenant, string resource, TimeSpan ttl, string keyId, CancellationToken cancellationToken)
    {
        var expires = _time.GetUtcNow().Add(ttl);
        var payload = JsonSerializer.SerializeToUtf8Bytes(new Payload(tenant, resource, expires.ToUnixTimeSeconds(), keyId), TokenJson.Default.Payload);
        var secret = await GetSecretAsync(cancellationToken);
        var mac = HMACSHA256.HashData(secret, payload);
        return (Base64Url.EncodeToString(payload) + "." + Base64Url.EncodeToString(mac), DateTimeOffset.FromUnixTimeSeconds(expires.ToUnixTimeSeconds()));
    }

    /// <summary>The claims of a well-formed, untampered, unexpired token; null otherwise.</summary>
    public async ValueTask<AccessTokenClaims?> ValidateAsync(string token, CancellationToken cancellationToken)
    {
        if (token.Length is 0 or > 2048)
        {
            return null;
        }

        var dot = token.IndexOf('.', StringComparison.Ordinal);
        if (dot <= 0 || dot == token.Length - 1)
        {
            return null;
        }

        byte[] payload, mac;
        try
        {
            payload = Base64Url.DecodeFromChars(token.AsSpan(0, dot));
            mac = Base64Url.DecodeFromChars(token.AsSpan(dot + 1));
        }
        catch (FormatException)
        {
            return null;
        }

        var secret = await GetSecretAsync(cancellationToken);
        var expected = HMACSHA256.HashData(secret, payload);
        if (!CryptographicOperations.FixedTimeEquals(expected, mac))
        {
            return null;
        }

        Payload? claims;
        try
        {
            claims = JsonSerializer.Deserialize(payload, TokenJson.Default.Payload);
        }
        catch (JsonException)
        {
            return null;
        }

        if (claims is null || claims.T is null || claims.R is null || claims.K is null)
        {
            return null;
        }

        var expires = DateTimeOffset.FromUnixTimeSeconds(claims.E);
        return expires <= _time.GetUtcNow() ? null : new AccessTokenClaims(claims.T, claims.R, expires, claims.K);
    }

    private async ValueTask<byte[]> GetSecretAsync(CancellationToken cancellationToken)
    {
        if (_secret is { } cached)
        {
            return cached;
        }

        var configured = _options.CurrentValue.TokenSigningKey;
        var secret = configured is not null
            ? Convert.FromBase64String(configured)
            : await _store.GetOrAddSecretAsync(SecretName, static () => RandomNumberGenerator.GetBytes(32), cancellationToken);
        _secret = secret;
        return secret;
    }

    internal sealed record Payload(string T, string R, long E, string K);
}

[System.Text.Json.Serialization.JsonSerializable(typeof(AccessTokenService.Payload))]
internal sealed partial class TokenJson : System.Text.Json.Serialization.JsonSerializerContext;
