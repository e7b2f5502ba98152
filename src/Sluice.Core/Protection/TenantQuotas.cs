using System.Collections.Concurrent;

namespace Sluice.Protection;

/// <summary>Per-tenant concurrency counters (open SSE responses, admitted generations): one tenant cannot take a node's capacity.</summary>
public sealed class TenantQuotas
{
    private readonly ConcurrentDictionary<string, StrongBox> _counts = new(StringComparer.Ordinal);

    /// <summary>Takes one place of the tenant's quota; false when it holds <paramref name="limit"/> already.</summary>
    public bool TryAcquire(string tenant, int limit)
    {
        var box = _counts.GetOrAdd(tenant, static _ => new StrongBox());
        while (true)
        {
            var current = Volatile.Read(ref box.Value);
            if (current >= limit)
            {
                return false;
            }

            if (Interlocked.CompareExchange(ref box.Value, current + 1, current) == current)
            {
                return true;
            }
        }
    }

    public void Release(string tenant)
    {
        if (_counts.TryGetValue(tenant, out var box))
        {
            Interlocked.Decrement(ref box.Value);
        }
    }

    public int Count(string tenant) => _counts.TryGetValue(tenant, out var box) ? Volatile.Read(ref box.Value) : 0;

    private sealed class StrongBox
    {
        public int Value;
    }
}
