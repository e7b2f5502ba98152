using Sluice.Ops;

namespace Sluice.Storage;

internal sealed class MemoryOpsMetricsStore : IOpsMetricsStore
{
    private readonly object _lock = new();
    private readonly Dictionary<(DateTimeOffset, string, string), OpsMetricsRow> _rows = [];

    public ValueTask UpsertAsync(IReadOnlyList<OpsMetricsRow> rows, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            foreach (var row in rows)
            {
                _rows[(row.Hour, row.Tenant, row.Channel)] = row;
            }
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask<IReadOnlyList<OpsMetricsRow>> RecentAsync(int limit, string? tenant, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            IReadOnlyList<OpsMetricsRow> list = [.. _rows.Values.Where(r => tenant is null || r.Tenant == tenant).OrderByDescending(r => r.Hour).ThenBy(r => r.Tenant, StringComparer.Ordinal)
                .ThenBy(r => r.Channel, StringComparer.Ordinal).Take(limit)];
            return ValueTask.FromResult(list);
        }
    }

    public ValueTask<int> RemoveBeforeAsync(DateTimeOffset cutoff, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            var old = _rows.Keys.Where(k => k.Item1 < cutoff).ToList();
            foreach (var key in old)
            {
                _rows.Remove(key);
            }

            return ValueTask.FromResult(old.Count);
        }
    }
}
