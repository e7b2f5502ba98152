using Microsoft.AspNetCore.Http;
using Sluice.Tenancy;

namespace Sluice.Http.Auth;

/// <summary>
/// Who is calling: an API key (tenant + roles), or a browser access token scoped to one resource.
/// Set by <see cref="SluiceAuthenticationHandler"/>.
/// </summary>
internal sealed record SluiceCaller(string Tenant, Roles Roles, string KeyId, string? TokenResource, DateTimeOffset? ExpiresAt = null)
{
    public bool IsToken => TokenResource is not null;

    public bool IsAdmin => !IsToken && Roles.HasFlag(Roles.Admin);

    public bool Grants(Roles required) => !IsToken && RoleNames.Grants(Roles, required);
}

internal static class SluiceCallerExtensions
{
    public const string TenantHeader = "X-Tenant-Key";

    public static SluiceCaller GetCaller(this HttpContext context) =>
        context.Features.Get<SluiceCaller>() ?? throw new InvalidOperationException("The endpoint requires authorization.");

    /// <summary>
    /// The tenant the request acts on. <c>X-Tenant-Key</c> must equal a tenant key's own tenant (else 403);
    /// for admin keys it selects the tenant.
    /// </summary>
    public static bool TryResolveTenant(this HttpContext context, out string tenant)
    {
        var caller = context.GetCaller();
        tenant = caller.Tenant;
        var header = context.Request.Headers[TenantHeader].ToString();
        if (header.Length == 0)
        {
            return true;
        }

        if (caller.IsAdmin)
        {
            if (!Identifiers.IsValidTenantName(header))
            {
                return false;
            }

            tenant = header;
            return true;
        }

        return string.Equals(header, caller.Tenant, StringComparison.Ordinal);
    }
}

file static class Identifiers
{
    public static bool IsValidTenantName(string value) => Sluice.Streams.Identifiers.IsValidTenant(value);
}
