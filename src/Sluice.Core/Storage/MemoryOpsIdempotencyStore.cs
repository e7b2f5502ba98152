using Sluice.Ops;

namespace Sluice.Storage;

/// <summary>The embedded in-memory <see cref="IOpsIdempotencyStore"/>; one lock, as ops calls are rare.</summary>
internal sealed class MemoryOpsIdempotencyStore : IOpsIdempotencyStore
{
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    public ValueTask<OpsIdempotencyClaim> ClaimAsync(string scope, string requestHash, DateTimeOffset now, DateTimeOffset expiredBefore, DateTimeOffset staleBefore, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (_entries.TryGetValue(scope, out var entry) && entry.ClaimedAt >= expiredBefore)
            {
                if (entry.RequestHash != requestHash)
                {
                    return ValueTask.FromResult(new OpsIdempotencyClaim(OpsIdempotencyOutcome.Conflict));
                }

                if (entry.Response is { } response)
                {
                    return ValueTask.FromResult(new OpsIdempotencyClaim(OpsIdempotencyOutcome.Completed, response));
                }

                if (entry.ClaimedAt >= staleBefore)
                {
                    return ValueTask.FromResult(new OpsIdempotencyClaim(OpsIdempotencyOutcome.InProgress));
                }
            }

            _entries[scope] = new Entry(requestHash, now, null);
            return ValueTask.FromResult(new OpsIdempotencyClaim(OpsIdempotencyOutcome.Claimed));
        }
    }

    public ValueTask CompleteAsync(string scope, OpsStoredResponse response, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (_entries.TryGetValue(scope, out var entry))
            {
                _entries[scope] = entry with { Response = response };
            }
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask ReleaseAsync(string scope, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (_entries.TryGetValue(scope, out var entry) && entry.Response is null)
            {
                _entries.Remove(scope);
            }
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask<int> RemoveBeforeAsync(DateTimeOffset cutoff, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            var removed = 0;
            foreach (var (scope, entry) in _entries)
            {
                if (entry.ClaimedAt < cutoff && _entries.Remove(scope))
                {
                    removed++;
                }
            }

            return ValueTask.FromResult(removed);
        }
    }

    private sealed record Entry(string RequestHash, DateTimeOffset ClaimedAt, OpsStoredResponse? Response);
}
