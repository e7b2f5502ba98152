using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Sluice.Http.Auth;
using Sluice.Http.Problems;
using Sluice.Protection;

namespace Sluice.Http.Protection;

/// <summary>
/// Per-tenant request rate limits on ASP.NET Core's rate limiter: one token bucket per tenant, sized by
/// <c>Sluice:Limits:RequestsPerMinute</c>/<c>RequestBurst</c> or, while set, by the emergency limit. A change
/// of limit bumps <see cref="RuntimeControls.RateLimitVersion"/>, which is part of the partition key, so
/// every tenant starts on a fresh bucket of the new size. Admin keys are never limited: the operator pulling
/// the lever must not be locked out by it.
/// </summary>
internal static class TenantRateLimiter
{
    /// <summary>The limiter of <paramref name="options"/>: cluster-wide through <paramref name="shared"/> when the store has one, else per node.</summary>
    public static void Configure(RateLimiterOptions options, RuntimeControls controls, IRequestRateStore? shared, Storage.IStoreFaults faults)
    {
        Configure(options, controls);
        if (shared is not null)
        {
            options.GlobalLimiter = new ClusterRequestLimiter(options.GlobalLimiter!, shared, controls, faults);
        }
    }

    public static void Configure(RateLimiterOptions options, RuntimeControls controls)
    {
        options.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, (string Tenant, int Version)>(context =>
        {
            var caller = context.Features.Get<SluiceCaller>();
            if (caller is null || caller.IsAdmin)
            {
                return RateLimitPartition.GetNoLimiter((string.Empty, 0));
            }

            var (perMinute, burst) = controls.RequestRate;
            return RateLimitPartition.GetTokenBucketLimiter((caller.Tenant, controls.RateLimitVersion), _ => Bucket(perMinute, burst));
        });
        options.OnRejected = static async (rejected, _) =>
        {
            var retry = rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var after) ? after : TimeSpan.FromSeconds(1);
            await Problem.WriteAsync(rejected.HttpContext, StatusCodes.Status429TooManyRequests, ProblemCodes.RateLimited, "Too many requests for this tenant.",
                "The tenant's request rate limit is reached; retry after the delay.", retry < TimeSpan.FromSeconds(1) ? TimeSpan.FromSeconds(1) : retry);
        };
    }

    private static TokenBucketRateLimiterOptions Bucket(int perMinute, int burst) => perMinute >= 60
        ? new() { TokenLimit = burst, TokensPerPeriod = perMinute / 60, ReplenishmentPeriod = TimeSpan.FromSeconds(1), QueueLimit = 0, AutoReplenishment = true }
        : new() { TokenLimit = burst, TokensPerPeriod = 1, ReplenishmentPeriod = TimeSpan.FromMinutes(1.0 / perMinute), QueueLimit = 0, AutoReplenishment = true };
}
