using System.Threading.RateLimiting;

namespace Sluice.Protection;

/// <summary>
/// Per-tenant concurrency (open SSE responses, admitted generations), so one tenant cannot take a node's
/// capacity: a <see cref="PartitionedRateLimiter"/> per kind, one <see cref="AdjustableConcurrencyLimiter"/> per
/// tenant, its limit read live from <see cref="RuntimeControls"/>. The library drops a tenant's partition once
/// it has been idle a while, so the tenants it tracks are those with work open, not every one ever seen.
/// </summary>
internal sealed class TenantQuotas : IDisposable
{
    private readonly PartitionedRateLimiter<string> _streams;
    private readonly PartitionedRateLimiter<string> _generations;

    public TenantQuotas(RuntimeControls controls, TimeProvider time)
    {
        _streams = PartitionedRateLimiter.Create<string, string>(tenant =>
            RateLimitPartition.Get(tenant, _ => new AdjustableConcurrencyLimiter(() => controls.MaxStreamsPerTenant, time)));
        _generations = PartitionedRateLimiter.Create<string, string>(tenant =>
            RateLimitPartition.Get(tenant, _ => new AdjustableConcurrencyLimiter(() => controls.MaxGenerationsPerTenant, time)));
    }

    /// <summary>One of the tenant's open SSE responses; not acquired when it holds its quota.</summary>
    public RateLimitLease AcquireStream(string tenant) => _streams.AttemptAcquire(tenant);

    /// <summary>One of the tenant's queued or running generations; not acquired when it holds its quota.</summary>
    public RateLimitLease AcquireGeneration(string tenant) => _generations.AttemptAcquire(tenant);

    public void Dispose()
    {
        _streams.Dispose();
        _generations.Dispose();
    }
}
