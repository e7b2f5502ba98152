namespace Sluice.Ops;

/// <summary>
/// Recorded trace events, in the store, bounded by retention. A search matches the keyword against the kind,
/// the trace id or the generation id, each indexed, within a time range, newest first; with a tenant, only
/// that tenant's events.
/// </summary>
internal interface ITraceLog
{
    ValueTask AppendAsync(TraceEvent e, CancellationToken cancellationToken);

    ValueTask<IReadOnlyList<TraceEvent>> SearchAsync(string? keyword, string? tenant, DateTimeOffset from, DateTimeOffset to, int page, int size, CancellationToken cancellationToken);

    /// <summary>Removes events older than <paramref name="cutoff"/>.</summary>
    ValueTask<int> RemoveBeforeAsync(DateTimeOffset cutoff, CancellationToken cancellationToken);
}
