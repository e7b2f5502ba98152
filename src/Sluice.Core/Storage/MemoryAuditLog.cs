using Sluice.Audit;

namespace Sluice.Storage;

/// <summary>The audit trail in process memory.</summary>
internal sealed class MemoryAuditLog : IAuditLog
{
    private readonly object _lock = new();
    private readonly List<AuditEntry> _entries = [];
    private long _lastId;

    public ValueTask<AuditEntry> AppendAsync(AuditEntry entry, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            var stored = entry with { Id = ++_lastId };
            _entries.Add(stored);
            return ValueTask.FromResult(stored);
        }
    }

    public ValueTask<IReadOnlyList<AuditEntry>> QueryAsync(DateTimeOffset from, DateTimeOffset to, int page, int size, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            IReadOnlyList<AuditEntry> list = [.. _entries.Where(e => e.At >= from && e.At < to)
                .OrderByDescending(e => e.At).ThenByDescending(e => e.Id).Skip((int)Math.Min(int.MaxValue, (long)page * size)).Take(size)];
            return ValueTask.FromResult(list);
        }
    }

    public ValueTask<int> RemoveBeforeAsync(DateTimeOffset cutoff, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            return ValueTask.FromResult(_entries.RemoveAll(e => e.At < cutoff));
        }
    }
}
