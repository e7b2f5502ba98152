namespace Sluice.Ops;

/// <summary>Hourly ops rows in the store: upserted by the node that aggregated them, read newest first.</summary>
internal interface IOpsMetricsStore
{
    ValueTask UpsertAsync(IReadOnlyList<OpsMetricsRow> rows, CancellationToken cancellationToken);

    /// <summary>The newest rows (of one tenant's, when <paramref name="tenant"/> is given).</summary>
    ValueTask<IReadOnlyList<OpsMetricsRow>> RecentAsync(int limit, string? tenant, CancellationToken cancellationToken);

    /// <summary>Removes rows of hours before <paramref name="cutoff"/>.</summary>
    ValueTask<int> RemoveBeforeAsync(DateTimeOffset cutoff, CancellationToken cancellationToken);
}
