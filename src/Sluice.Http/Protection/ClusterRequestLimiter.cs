using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http;
using Sluice.Http.Auth;
using Sluice.Protection;

namespace Sluice.Http.Protection;

/// <summary>
/// The tenant request limiter of a cluster (API.md section 9): one budget for all nodes, taken in the shared store
/// (<see cref="IRequestRateStore"/>), instead of one token bucket per node. ASP.NET Core's rate limiting middleware
/// asks synchronously first and, refused, waits on the asynchronous path: the first answer is "not yet", the
/// second is the store's. While the store is unreachable each node falls back to its own buckets (a budget per node
/// for the outage, rather than no limit or no service). Admin keys are never limited.
/// </summary>
internal sealed class ClusterRequestLimiter(PartitionedRateLimiter<HttpContext> local, IRequestRateStore shared, RuntimeControls controls, Storage.IStoreFaults faults)
    : PartitionedRateLimiter<HttpContext>
{
    public override RateLimiterStatistics? GetStatistics(HttpContext resource) => local.GetStatistics(resource);

    protected override RateLimitLease AttemptAcquireCore(HttpContext resource, int permitCount) =>
        Tenant(resource) is null ? local.AttemptAcquire(resource, permitCount) : Decision.NotYet;

    protected override async ValueTask<RateLimitLease> AcquireAsyncCore(HttpContext resource, int permitCount, CancellationToken cancellationToken)
    {
        if (Tenant(resource) is not { } tenant)
        {
            return await local.AcquireAsync(resource, permitCount, cancellationToken);
        }

        var (perMinute, burst) = controls.RequestRate;
        try
        {
            // The limit is part of the bucket: a changed limit starts every tenant afresh, as the local buckets do.
            var wait = await shared.TryTakeAsync($"{tenant}/{perMinute}/{burst}", perMinute, burst, cancellationToken);
            return wait is null ? Decision.Admitted : new Decision(false, wait.Value);
        }
        catch (Exception ex) when (faults.IsUnavailable(ex))
        {
            return await local.AcquireAsync(resource, permitCount, cancellationToken);
        }
    }

    private static string? Tenant(HttpContext context) => context.Features.Get<SluiceCaller>() is { IsAdmin: false } caller ? caller.Tenant : null;

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            local.Dispose();
        }

        base.Dispose(disposing);
    }

    private sealed class Decision(bool acquired, TimeSpan retryAfter) : RateLimitLease
    {
        public static readonly Decision Admitted = new(true, TimeSpan.Zero);

        /// <summary>Refused on the synchronous path only so that the middleware asks the store.</summary>
        public static readonly Decision NotYet = new(false, TimeSpan.Zero);

        public override bool IsAcquired => acquired;

        public override IEnumerable<string> MetadataNames => acquired || retryAfter == TimeSpan.Zero ? [] : [MetadataName.RetryAfter.Name];

        public override bool TryGetMetadata(string metadataName, out object? metadata)
        {
            if (!acquired && retryAfter > TimeSpan.Zero && metadataName == MetadataName.RetryAfter.Name)
            {
                metadata = retryAfter;
                return true;
            }

            metadata = null;
            return false;
        }

        protected override void Dispose(bool disposing)
        {
        }
    }
}
