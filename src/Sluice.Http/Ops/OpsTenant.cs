using Microsoft.AspNetCore.Http;
using Sluice.Http.Auth;

namespace Sluice.Http.Ops;

/// <summary>
/// On the ops reads, an admin's <c>X-Tenant-Key</c> selects one tenant's rows (API.md section 1: it "selects the
/// tenant for admin keys"); without it they span every tenant. An invalid tenant name is refused.
/// </summary>
internal static class OpsTenant
{
    public static bool TrySelect(HttpContext context, out string? tenant)
    {
        tenant = null;
        if (context.Request.Headers[SluiceCallerExtensions.TenantHeader].Count == 0)
        {
            return true;
        }

        if (!context.TryResolveTenant(out var selected))
        {
            return false;
        }

        tenant = selected;
        return true;
    }
}
