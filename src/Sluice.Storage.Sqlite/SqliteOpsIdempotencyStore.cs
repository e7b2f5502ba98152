using Microsoft.Data.Sqlite;
using Sluice.Ops;

namespace Sluice.Storage.Sqlite;

/// <summary>Ops Idempotency-Keys in the embedded database; a claim reads and writes in the writer's transaction, so it is atomic.</summary>
internal sealed class SqliteOpsIdempotencyStore(SqliteDatabase db) : IOpsIdempotencyStore
{
    public async ValueTask<OpsIdempotencyClaim> ClaimAsync(string scope, string requestHash, DateTimeOffset now, DateTimeOffset expiredBefore, DateTimeOffset staleBefore, CancellationToken cancellationToken) =>
        await db.WriteAsync(new ClaimWrite(scope, requestHash, now, expiredBefore, staleBefore), cancellationToken);

    public async ValueTask CompleteAsync(string scope, OpsStoredResponse response, CancellationToken cancellationToken) =>
        await db.WriteAsync(new SqliteCommandWrite(c =>
        {
            c.CommandText = "UPDATE ops_idempotency SET status = $status, content_type = $type, body = $body WHERE scope = $scope";
            c.Parameters.AddWithValue("$scope", scope);
            c.Parameters.AddWithValue("$status", response.Status);
            c.Parameters.AddWithValue("$type", (object?)response.ContentType ?? DBNull.Value);
            c.Parameters.AddWithValue("$body", response.Body);
        }), cancellationToken);

    public async ValueTask ReleaseAsync(string scope, CancellationToken cancellationToken) =>
        await db.WriteAsync(new SqliteCommandWrite(c =>
        {
            c.CommandText = "DELETE FROM ops_idempotency WHERE scope = $scope AND status IS NULL";
            c.Parameters.AddWithValue("$scope", scope);
        }), cancellationToken);

    public async ValueTask<int> RemoveBeforeAsync(DateTimeOffset cutoff, CancellationToken cancellationToken) =>
        await db.WriteAsync(new SqliteCommandWrite(c =>
        {
            c.CommandText = "DELETE FROM ops_idempotency WHERE claimed_at < $cutoff";
            c.Parameters.AddWithValue("$cutoff", cutoff.ToUnixTimeMilliseconds());
        }), cancellationToken);

    private sealed class ClaimWrite(string scope, string hash, DateTimeOffset now, DateTimeOffset expiredBefore, DateTimeOffset staleBefore) : SqliteWrite<OpsIdempotencyClaim>
    {
        public override void Execute(SqliteConnection connection, SqliteTransaction transaction)
        {
            using (var read = connection.CreateCommand())
            {
                read.Transaction = transaction;
                read.CommandText = "SELECT request_hash, claimed_at, status, content_type, body FROM ops_idempotency WHERE scope = $scope";
                read.Parameters.AddWithValue("$scope", scope);
                using var reader = read.ExecuteReader();
                if (reader.Read() && reader.GetInt64(1) >= expiredBefore.ToUnixTimeMilliseconds())
                {
                    if (reader.GetString(0) != hash)
                    {
                        SetResult(new OpsIdempotencyClaim(OpsIdempotencyOutcome.Conflict));
                        return;
                    }

                    if (!reader.IsDBNull(2))
                    {
                        SetResult(new OpsIdempotencyClaim(OpsIdempotencyOutcome.Completed,
                            new OpsStoredResponse(reader.GetInt32(2), reader.IsDBNull(3) ? null : reader.GetString(3), (byte[])reader.GetValue(4))));
                        return;
                    }

                    if (reader.GetInt64(1) >= staleBefore.ToUnixTimeMilliseconds())
                    {
                        SetResult(new OpsIdempotencyClaim(OpsIdempotencyOutcome.InProgress));
                        return;
                    }
                }
            }

            using var claim = connection.CreateCommand();
            claim.Transaction = transaction;
            claim.CommandText = """
                INSERT INTO ops_idempotency(scope, request_hash, claimed_at) VALUES($scope, $hash, $now)
                ON CONFLICT(scope) DO UPDATE SET request_hash = excluded.request_hash, claimed_at = excluded.claimed_at, status = NULL, content_type = NULL, body = NULL
                """;
            claim.Parameters.AddWithValue("$scope", scope);
            claim.Parameters.AddWithValue("$hash", hash);
            claim.Parameters.AddWithValue("$now", now.ToUnixTimeMilliseconds());
            claim.ExecuteNonQuery();
            SetResult(new OpsIdempotencyClaim(OpsIdempotencyOutcome.Claimed));
        }
    }
}
