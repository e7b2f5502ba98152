using Sluice.Ops;

namespace Sluice.Storage;

/// <summary>Trace events in process memory, bounded (the oldest go first beyond 100,000).</summary>
internal sealed class MemoryTraceLog : ITraceLog
{
    private const int Max = 100_000;
    private readonly object _lock = new();
    private readonly LinkedList<TraceEvent> _events = new();
    private long _next;

    public ValueTask AppendAsync(TraceEvent e, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            _events.AddLast(e with { Id = ++_next });
            if (_events.Count > Max)
            {
                _events.RemoveFirst();
            }
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask<IReadOnlyList<TraceEvent>> SearchAsync(string? keyword, string? tenant, DateTimeOffset from, DateTimeOffset to, int page, int size, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            IReadOnlyList<TraceEvent> list = [.. _events.Reverse()
                .Where(e => e.At >= from && e.At < to && (tenant is null || e.Tenant == tenant)
                    && (string.IsNullOrEmpty(keyword) || e.Kind == keyword || e.TraceId == keyword || e.GenerationId == keyword))
                .Skip((int)Math.Min(int.MaxValue, (long)page * size)).Take(size)];
            return ValueTask.FromResult(list);
        }
    }

    public ValueTask<int> RemoveBeforeAsync(DateTimeOffset cutoff, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            var removed = 0;
            while (_events.First is { } first && first.Value.At < cutoff)
            {
                _events.RemoveFirst();
                removed++;
            }

            return ValueTask.FromResult(removed);
        }
    }
}
