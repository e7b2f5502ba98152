using Sluice.Generations;

namespace Sluice.Storage;

/// <summary>Generation records and idempotency keys in process memory (tests, benchmarks, <c>Store=memory</c>).</summary>
internal sealed class MemoryGenerationStore : IGenerationStore
{
    private readonly object _lock = new();
    private readonly Dictionary<(string Tenant, string Id), GenerationRecord> _records = [];
    private readonly Dictionary<(string Tenant, string Key), (string Hash, string Id, DateTimeOffset At)> _keys = [];

    public ValueTask<GenerationCreateResult> CreateAsync(GenerationRecord record, IdempotencyClaim? idempotency, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (idempotency is not null)
            {
                if (_keys.TryGetValue((record.Tenant, idempotency.Key), out var taken) && taken.At >= idempotency.NotBefore
                    && _records.TryGetValue((record.Tenant, taken.Id), out var existing))
                {
                    return ValueTask.FromResult(new GenerationCreateResult(false, existing, taken.Hash));
                }

                _keys[(record.Tenant, idempotency.Key)] = (idempotency.RequestHash, record.Id, record.CreatedAt);
            }

            _records[(record.Tenant, record.Id)] = record;
            return ValueTask.FromResult(new GenerationCreateResult(true, record, null));
        }
    }

    public ValueTask UpdateAsync(GenerationRecord record, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            // A finished record is final: a late writer changes nothing.
            if (!_records.TryGetValue((record.Tenant, record.Id), out var current) || !current.Status.IsFinished())
            {
                _records[(record.Tenant, record.Id)] = record;
            }
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask<GenerationRecord?> GetAsync(string tenant, string id, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            return ValueTask.FromResult(_records.GetValueOrDefault((tenant, id)));
        }
    }

    public ValueTask<IReadOnlyList<GenerationRecord>> ListAsync(string tenant, GenerationStatus? status, int limit, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            IReadOnlyList<GenerationRecord> list = [.. _records.Values
                .Where(r => r.Tenant == tenant && (status is null || r.Status == status))
                .OrderByDescending(r => r.CreatedAt).ThenByDescending(r => r.Id, StringComparer.Ordinal)
                .Take(limit)];
            return ValueTask.FromResult(list);
        }
    }

    public ValueTask<IReadOnlyList<GenerationRecord>> ListUnfinishedAsync(CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            IReadOnlyList<GenerationRecord> list = [.. _records.Values.Where(r => !r.Status.IsFinished())];
            return ValueTask.FromResult(list);
        }
    }

    public ValueTask<int> RemoveFinishedAsync(DateTimeOffset cutoff, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            var removed = 0;
            foreach (var (key, record) in _records.ToList())
            {
                if (record.Status.IsFinished() && record.CompletedAt < cutoff)
                {
                    _records.Remove(key);
                    removed++;
                }
            }

            foreach (var (key, value) in _keys.ToList())
            {
                if (value.At < cutoff)
                {
                    _keys.Remove(key);
                }
            }

            return ValueTask.FromResult(removed);
        }
    }
}
