namespace Sluice.Audit;

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
