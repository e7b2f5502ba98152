using System.Text.Json;
using Microsoft.Data.Sqlite;
using Sluice.Generations;

namespace Sluice.Storage.Sqlite;

/// <summary>
/// Generation records and idempotency keys in the embedded database. The record is one JSON column beside
/// the indexed ones (tenant, status, times); the idempotency check and the insert run in one writer
/// transaction, so a key names one generation even under concurrent creates.
/// </summary>
internal sealed class SqliteGenerationStore(SqliteDatabase db) : IGenerationStore
{
    public async ValueTask<GenerationCreateResult> CreateAsync(GenerationRecord record, IdempotencyClaim? idempotency, CancellationToken cancellationToken)
    {
        var existing = await db.WriteAsync(new CreateWrite(record, idempotency), cancellationToken);
        return existing is null ? new GenerationCreateResult(true, record, null) : new GenerationCreateResult(false, existing.Value.Record, existing.Value.Hash);
    }

    public async ValueTask UpdateAsync(GenerationRecord record, CancellationToken cancellationToken) =>
        await db.WriteAsync(new SqliteCommandWrite(c =>
        {
            c.CommandText = "UPDATE generations SET status = $status, completed_at = $completed, record = $record WHERE tenant = $tenant AND id = $id AND status < $finished";
            Bind(c, record);
            // A finished record is final (the first status that IsFinished): a late writer changes nothing.
            c.Parameters.AddWithValue("$finished", (int)GenerationStatus.Succeeded);
        }), cancellationToken);

    public ValueTask<GenerationRecord?> GetAsync(string tenant, string id, CancellationToken cancellationToken) =>
        ValueTask.FromResult(Query("SELECT record FROM generations WHERE tenant = $tenant AND id = $id", c =>
        {
            c.Parameters.AddWithValue("$tenant", tenant);
            c.Parameters.AddWithValue("$id", id);
        }).FirstOrDefault());

    public ValueTask<IReadOnlyList<GenerationRecord>> ListAsync(string tenant, GenerationStatus? status, int limit, CancellationToken cancellationToken) =>
        ValueTask.FromResult<IReadOnlyList<GenerationRecord>>(Query(status is null
            ? "SELECT record FROM generations WHERE tenant = $tenant ORDER BY created_at DESC, id DESC LIMIT $limit"
            : "SELECT record FROM generations WHERE tenant = $tenant AND status = $status ORDER BY created_at DESC, id DESC LIMIT $limit", c =>
        {
            c.Parameters.AddWithValue("$tenant", tenant);
            c.Parameters.AddWithValue("$limit", limit);
            if (status is { } s)
            {
                c.Parameters.AddWithValue("$status", (int)s);
            }
        }));

    public ValueTask<IReadOnlyList<GenerationRecord>> ListUnfinishedAsync(CancellationToken cancellationToken) =>
        ValueTask.FromResult<IReadOnlyList<GenerationRecord>>(Query(
            $"SELECT record FROM generations WHERE status IN ({(int)GenerationStatus.Queued}, {(int)GenerationStatus.Running})", _ => { }));

    public async ValueTask<int> RemoveFinishedAsync(DateTimeOffset cutoff, CancellationToken cancellationToken) =>
        await db.WriteAsync(new SqliteCommandWrite(c =>
        {
            c.CommandText = "DELETE FROM idempotency_keys WHERE created_at < $cutoff; DELETE FROM generations WHERE completed_at IS NOT NULL AND completed_at < $cutoff;";
            c.Parameters.AddWithValue("$cutoff", cutoff.ToUnixTimeMilliseconds());
        }), cancellationToken);

    private List<GenerationRecord> Query(string sql, Action<SqliteCommand> bind)
    {
        using var connection = db.OpenReader();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        bind(command);
        using var reader = command.ExecuteReader();
        var list = new List<GenerationRecord>();
        while (reader.Read())
        {
            list.Add(Deserialize(reader.GetString(0)));
        }

        return list;
    }

    private static void Bind(SqliteCommand c, GenerationRecord record)
    {
        c.Parameters.AddWithValue("$tenant", record.Tenant);
        c.Parameters.AddWithValue("$id", record.Id);
        c.Parameters.AddWithValue("$status", (int)record.Status);
        c.Parameters.AddWithValue("$created", record.CreatedAt.ToUnixTimeMilliseconds());
        c.Parameters.AddWithValue("$completed", record.CompletedAt is { } done ? done.ToUnixTimeMilliseconds() : DBNull.Value);
        c.Parameters.AddWithValue("$record", JsonSerializer.Serialize(record, StoreJson.Default.GenerationRecord));
    }

    private static GenerationRecord Deserialize(string json) => JsonSerializer.Deserialize(json, StoreJson.Default.GenerationRecord)!;

    private sealed class CreateWrite(GenerationRecord record, IdempotencyClaim? claim) : SqliteWrite<(GenerationRecord Record, string Hash)?>
    {
        public override void Execute(SqliteConnection connection, SqliteTransaction transaction)
        {
            if (claim is not null)
            {
                using var find = connection.CreateCommand();
                find.Transaction = transaction;
                find.CommandText = """
                    SELECT k.request_hash, g.record FROM idempotency_keys k JOIN generations g ON g.tenant = k.tenant AND g.id = k.generation_id
                    WHERE k.tenant = $tenant AND k.key = $key AND k.created_at >= $notBefore
                    """;
                find.Parameters.AddWithValue("$tenant", record.Tenant);
                find.Parameters.AddWithValue("$key", claim.Key);
                find.Parameters.AddWithValue("$notBefore", claim.NotBefore.ToUnixTimeMilliseconds());
                using (var reader = find.ExecuteReader())
                {
                    if (reader.Read())
                    {
                        SetResult((Deserialize(reader.GetString(1)), reader.GetString(0)));
                        return;
                    }
                }

                using var take = connection.CreateCommand();
                take.Transaction = transaction;
                take.CommandText = "INSERT OR REPLACE INTO idempotency_keys(tenant, key, request_hash, generation_id, created_at) VALUES($tenant, $key, $hash, $id, $created)";
                take.Parameters.AddWithValue("$tenant", record.Tenant);
                take.Parameters.AddWithValue("$key", claim.Key);
                take.Parameters.AddWithValue("$hash", claim.RequestHash);
                take.Parameters.AddWithValue("$id", record.Id);
                take.Parameters.AddWithValue("$created", record.CreatedAt.ToUnixTimeMilliseconds());
                take.ExecuteNonQuery();
            }

            using var insert = connection.CreateCommand();
            insert.Transaction = transaction;
            insert.CommandText = "INSERT INTO generations(tenant, id, status, created_at, completed_at, record) VALUES($tenant, $id, $status, $created, $completed, $record)";
            Bind(insert, record);
            insert.ExecuteNonQuery();
            SetResult(null);
        }
    }
}
