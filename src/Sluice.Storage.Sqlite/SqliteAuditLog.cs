using Microsoft.Data.Sqlite;
using Sluice.Audit;

namespace Sluice.Storage.Sqlite;

/// <summary>The audit trail in the embedded database, indexed by time.</summary>
internal sealed class SqliteAuditLog(SqliteDatabase db) : IAuditLog
{
    public async ValueTask<AuditEntry> AppendAsync(AuditEntry entry, CancellationToken cancellationToken) =>
        entry with { Id = await db.WriteAsync(new AppendWrite(entry), cancellationToken) };

    public ValueTask<IReadOnlyList<AuditEntry>> QueryAsync(DateTimeOffset from, DateTimeOffset to, int page, int size, CancellationToken cancellationToken)
    {
        using var connection = db.OpenReader();
        using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT id, at, actor_key_id, actor_tenant, action, target, reason, trace_id, before, after FROM audit
            WHERE at >= $from AND at < $to ORDER BY at DESC, id DESC LIMIT $size OFFSET $offset
            """;
        command.Parameters.AddWithValue("$from", from.ToUnixTimeMilliseconds());
        command.Parameters.AddWithValue("$to", to.ToUnixTimeMilliseconds());
        command.Parameters.AddWithValue("$size", size);
        command.Parameters.AddWithValue("$offset", (long)page * size);
        using var reader = command.ExecuteReader();
        var list = new List<AuditEntry>();
        while (reader.Read())
        {
            list.Add(new AuditEntry(reader.GetInt64(0), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(1)), reader.GetString(2), reader.GetString(3),
                reader.GetString(4), reader.GetString(5), Nullable(reader, 6), Nullable(reader, 7), Nullable(reader, 8), Nullable(reader, 9)));
        }

        return ValueTask.FromResult<IReadOnlyList<AuditEntry>>(list);
    }

    public async ValueTask<int> RemoveBeforeAsync(DateTimeOffset cutoff, CancellationToken cancellationToken) =>
        await db.WriteAsync(new SqliteCommandWrite(c =>
        {
            c.CommandText = "DELETE FROM audit WHERE at < $cutoff";
            c.Parameters.AddWithValue("$cutoff", cutoff.ToUnixTimeMilliseconds());
        }), cancellationToken);

    private static string? Nullable(SqliteDataReader reader, int i) => reader.IsDBNull(i) ? null : reader.GetString(i);

    private sealed class AppendWrite(AuditEntry e) : SqliteWrite<long>
    {
        public override void Execute(SqliteConnection connection, SqliteTransaction transaction)
        {
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = """
                INSERT INTO audit(at, actor_key_id, actor_tenant, action, target, reason, trace_id, before, after)
                VALUES($at, $actor, $tenant, $action, $target, $reason, $trace, $before, $after) RETURNING id
                """;
            command.Parameters.AddWithValue("$at", e.At.ToUnixTimeMilliseconds());
            command.Parameters.AddWithValue("$actor", e.ActorKeyId);
            command.Parameters.AddWithValue("$tenant", e.ActorTenant);
            command.Parameters.AddWithValue("$action", e.Action);
            command.Parameters.AddWithValue("$target", e.Target);
            command.Parameters.AddWithValue("$reason", (object?)e.Reason ?? DBNull.Value);
            command.Parameters.AddWithValue("$trace", (object?)e.TraceId ?? DBNull.Value);
            command.Parameters.AddWithValue("$before", (object?)e.BeforeJson ?? DBNull.Value);
            command.Parameters.AddWithValue("$after", (object?)e.AfterJson ?? DBNull.Value);
            SetResult((long)command.ExecuteScalar()!);
        }
    }
}
