using System.Threading.RateLimiting;

namespace Sluice.Protection;

/// <summary>
/// A concurrency limiter whose limit is read at every acquire, so <c>PUT /v1/admin/limits</c> applies at once
/// while the leases already granted stay counted (lowered below them, new acquires wait for enough releases).
/// System.Threading.RateLimiting's <see cref="ConcurrencyLimiter"/> fixes its limit at construction, and
/// swapping it on a change would forget or double-count the leases it granted; this is that limiter's
/// contract (no queue: refused at once) with a live limit, behind the library's own abstractions, so
/// <see cref="PartitionedRateLimiter"/> can keep one per tenant and drop the idle ones.
/// </summary>
internal sealed class AdjustableConcurrencyLimiter(Func<int> limit, TimeProvider time) : RateLimiter
{
    private static readonly RateLimitLease Refused = new Lease(null);
    private int _held;
    private long _idleSince = time.GetTimestamp();

    /// <summary>Leases granted and not yet released.</summary>
    public int Held => Volatile.Read(ref _held);

    public override TimeSpan? IdleDuration => Volatile.Read(ref _held) == 0 ? time.GetElapsedTime(Volatile.Read(ref _idleSince)) : null;

    public override RateLimiterStatistics? GetStatistics() => new()
    {
        CurrentAvailablePermits = Math.Max(0, limit() - Volatile.Read(ref _held)),
        CurrentQueuedCount = 0,
    };

    protected override RateLimitLease AttemptAcquireCore(int permitCount)
    {
        ArgumentOutOfRangeException.ThrowIfNotEqual(permitCount, 1);
        var max = limit();
        while (true)
        {
            var current = Volatile.Read(ref _held);
            if (current >= max)
            {
                return Refused;
            }

            if (Interlocked.CompareExchange(ref _held, current + 1, current) == current)
            {
                return new Lease(this);
            }
        }
    }

    // No queue: a refused acquire is answered now (503 or 429 with Retry-After), never parked.
    protected override ValueTask<RateLimitLease> AcquireAsyncCore(int permitCount, CancellationToken cancellationToken) =>
        ValueTask.FromResult(AttemptAcquireCore(permitCount));

    // Nothing to release, and nothing refused after it: PartitionedRateLimiter disposes an idle tenant's limiter
    // outside the lock its acquires take, so one may still reach a limiter it just dropped. Granting then costs
    // the tenant one place too many for a moment; refusing would answer a spurious 429.
    protected override void Dispose(bool disposing)
    {
    }

    private void Release()
    {
        if (Interlocked.Decrement(ref _held) == 0)
        {
            Volatile.Write(ref _idleSince, time.GetTimestamp());
        }
    }

    private sealed class Lease(AdjustableConcurrencyLimiter? owner) : RateLimitLease
    {
        private readonly bool _acquired = owner is not null;
        private AdjustableConcurrencyLimiter? _owner = owner;

        public override bool IsAcquired => _acquired;

        public override IEnumerable<string> MetadataNames => [];

        public override bool TryGetMetadata(string metadataName, out object? metadata)
        {
            metadata = null;
            return false;
        }

        protected override void Dispose(bool disposing) => Interlocked.Exchange(ref _owner, null)?.Release();
    }
}
