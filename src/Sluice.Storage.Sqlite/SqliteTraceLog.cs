using Microsoft.Data.Sqlite;
using Sluice.Ops;

namespace Sluice.Storage.Sqlite;

/// <summary>Trace events in the embedded database; searches use the (kind, at, tenant), (trace_id, at), (generation_id, at) and (tenant, at) indexes.</summary>
internal sealed class SqliteTraceLog(SqliteDatabase db) : ITraceLog
{
    public async ValueTask AppendAsync(TraceEvent e, CancellationToken cancellationToken) =>
        await db.WriteAsync(new SqliteCommandWrite(c =>
        {
            c.CommandText = "INSERT INTO trace_events(at, kind, trace_id, tenant, generation_id, detail) VALUES($at, $kind, $trace, $tenant, $gen, $detail)";
            c.Parameters.AddWithValue("$at", e.At.ToUnixTimeMilliseconds());
            c.Parameters.AddWithValue("$kind", e.Kind);
            c.Parameters.AddWithValue("$trace", (object?)e.TraceId ?? DBNull.Value);
            c.Parameters.AddWithValue("$tenant", (object?)e.Tenant ?? DBNull.Value);
            c.Parameters.AddWithValue("$gen", (object?)e.GenerationId ?? DBNull.Value);
            c.Parameters.AddWithValue("$detail", e.Detail);
        }), cancellationToken);

    public ValueTask<IReadOnlyList<TraceEvent>> SearchAsync(string? keyword, string? tenant, DateTimeOffset from, DateTimeOffset to, int page, int size, CancellationToken cancellationToken)
    {
        using var connection = db.OpenReader();
        using var command = connection.CreateCommand();
        const string columns = "SELECT id, at, kind, trace_id, tenant, generation_id, detail FROM trace_events";
        // One indexed branch per field rather than an OR, so SQLite never falls back to a scan. Each branch reads
        // only its covering index ((field, at) plus the rowid) and stops at offset + size entries, so a common
        // kind (a million resume failures) is never materialised; only the one page's rows are then fetched.
        // The tenant, when asked for, is in every index the branches read ((kind, at, tenant), (tenant, at)), or
        // the field is near-unique (trace id, generation id): filtering by it never leaves the index.
        var byTenant = tenant is null ? "" : "AND tenant = $tenant ";
        var range = $"{byTenant}AND at >= $from AND at < $to ORDER BY at DESC, id DESC LIMIT $end";
        command.CommandText = string.IsNullOrEmpty(keyword)
            ? $"{columns} WHERE at >= $from AND at < $to {byTenant}ORDER BY at DESC, id DESC LIMIT $size OFFSET $offset"
            : $"""
              {columns} WHERE id IN (
                SELECT id FROM (
                  SELECT * FROM (SELECT at, id FROM trace_events WHERE kind = $kw {range})
                  UNION SELECT * FROM (SELECT at, id FROM trace_events WHERE trace_id = $kw {range})
                  UNION SELECT * FROM (SELECT at, id FROM trace_events WHERE generation_id = $kw {range}))
                ORDER BY at DESC, id DESC LIMIT $size OFFSET $offset)
              ORDER BY at DESC, id DESC
              """;
        command.Parameters.AddWithValue("$tenant", (object?)tenant ?? DBNull.Value);
        command.Parameters.AddWithValue("$end", ((long)page + 1) * size);
        command.Parameters.AddWithValue("$kw", keyword ?? "");
        command.Parameters.AddWithValue("$from", from.ToUnixTimeMilliseconds());
        command.Parameters.AddWithValue("$to", to.ToUnixTimeMilliseconds());
        command.Parameters.AddWithValue("$size", size);
        command.Parameters.AddWithValue("$offset", (long)page * size);
        using var reader = command.ExecuteReader();
        var list = new List<TraceEvent>();
        while (reader.Read())
        {
            list.Add(new TraceEvent(reader.GetInt64(0), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(1)), reader.GetString(2),
                reader.IsDBNull(3) ? null : reader.GetString(3), reader.IsDBNull(4) ? null : reader.GetString(4),
                reader.IsDBNull(5) ? null : reader.GetString(5), reader.GetString(6)));
        }

        return ValueTask.FromResult<IReadOnlyList<TraceEvent>>(list);
    }

    public async ValueTask<int> RemoveBeforeAsync(DateTimeOffset cutoff, CancellationToken cancellationToken) =>
        await db.WriteAsync(new SqliteCommandWrite(c =>
        {
            c.CommandText = "DELETE FROM trace_events WHERE at < $cutoff";
            c.Parameters.AddWithValue("$cutoff", cutoff.ToUnixTimeMilliseconds());
        }), cancellationToken);
}
