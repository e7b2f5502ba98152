namespace Sluice.Audit;

/// <summary>
/// One recorded operator action (API.md sections 6 and 7): who (the acting key), when, what on which
/// target, why, the request's trace id, and the state before and after as compact JSON.
/// </summary>
internal sealed record AuditEntry(
    long Id,
    DateTimeOffset At,
    string ActorKeyId,
    string ActorTenant,
    string Action,
    string Target,
    string? Reason,
    string? TraceId,
    string? BeforeJson,
    string? AfterJson);

/// <summary>The audit trail, in the store beside everything else; append-only, read newest first by time range.</summary>
internal interface IAuditLog
{
    /// <summary>Appends the entry (its <see cref="AuditEntry.Id"/> is assigned) and returns it as stored.</summary>
    ValueTask<AuditEntry> AppendAsync(AuditEntry entry, CancellationToken cancellationToken);

    /// <summary>Entries with <paramref name="from"/> &lt;= at &lt; <paramref name="to"/>, newest first, one page.</summary>
    ValueTask<IReadOnlyList<AuditEntry>> QueryAsync(DateTimeOffset from, DateTimeOffset to, int page, int size, CancellationToken cancellationToken);

    /// <summary>Removes entries older than <paramref name="cutoff"/> (<c>Sluice:Retention:Audit</c>).</summary>
    ValueTask<int> RemoveBeforeAsync(DateTimeOffset cutoff, CancellationToken cancellationToken);
}
