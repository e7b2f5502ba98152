using System.Text.Json;
using Microsoft.Data.Sqlite;
using Sluice.Ops;

namespace Sluice.Storage.Sqlite;

/// <summary>Hourly ops rows, primary key (hour, tenant, channel); the newest hours are read through it.</summary>
internal sealed class SqliteOpsMetricsStore(SqliteDatabase db) : IOpsMetricsStore
{
    public async ValueTask UpsertAsync(IReadOnlyList<OpsMetricsRow> rows, CancellationToken cancellationToken)
    {
        if (rows.Count > 0)
        {
            await db.WriteAsync(new UpsertWrite(rows), cancellationToken);
        }
    }

    public ValueTask<IReadOnlyList<OpsMetricsRow>> RecentAsync(int limit, string? tenant, CancellationToken cancellationToken)
    {
        using var connection = db.OpenReader();
        using var command = connection.CreateCommand();
        // The primary key (hour, tenant, channel) serves both: newest hours first, a tenant's rows found within each hour.
        command.CommandText = $"""
            SELECT hour, tenant, channel, requests, errors, sse_connections, resume_attempts, resume_failures, ttft_p95_ms, e2e_p95_ms, output_tokens
            FROM ops_metrics_hourly {(tenant is null ? "" : "WHERE tenant = $tenant ")}ORDER BY hour DESC, tenant, channel LIMIT $limit
            """;
        command.Parameters.AddWithValue("$limit", limit);
        command.Parameters.AddWithValue("$tenant", (object?)tenant ?? DBNull.Value);
        using var reader = command.ExecuteReader();
        var list = new List<OpsMetricsRow>();
        while (reader.Read())
        {
            list.Add(new OpsMetricsRow(DateTimeOffset.FromUnixTimeSeconds(reader.GetInt64(0)), reader.GetString(1), reader.GetString(2), reader.GetInt64(3),
                JsonSerializer.Deserialize<Dictionary<string, long>>(reader.GetString(4)) ?? [], reader.GetInt64(5), reader.GetInt64(6), reader.GetInt64(7),
                reader.IsDBNull(8) ? null : reader.GetDouble(8), reader.IsDBNull(9) ? null : reader.GetDouble(9), reader.GetInt64(10)));
        }

        return ValueTask.FromResult<IReadOnlyList<OpsMetricsRow>>(list);
    }

    public async ValueTask<int> RemoveBeforeAsync(DateTimeOffset cutoff, CancellationToken cancellationToken) =>
        await db.WriteAsync(new SqliteCommandWrite(c =>
        {
            c.CommandText = "DELETE FROM ops_metrics_hourly WHERE hour < $cutoff";
            c.Parameters.AddWithValue("$cutoff", cutoff.ToUnixTimeSeconds());
        }), cancellationToken);

    private sealed class UpsertWrite(IReadOnlyList<OpsMetricsRow> rows) : SqliteWrite<int>
    {
        public override void Execute(SqliteConnection connection, SqliteTransaction transaction)
        {
            foreach (var r in rows)
            {
                using var command = connection.CreateCommand();
                command.Transaction = transaction;
                command.CommandText = """
                    INSERT OR REPLACE INTO ops_metrics_hourly(hour, tenant, channel, requests, errors, sse_connections, resume_attempts, resume_failures, ttft_p95_ms, e2e_p95_ms, output_tokens)
                    VALUES($hour, $tenant, $channel, $requests, $errors, $sse, $attempts, $failures, $ttft, $e2e, $tokens)
                    """;
                command.Parameters.AddWithValue("$hour", r.Hour.ToUnixTimeSeconds());
                command.Parameters.AddWithValue("$tenant", r.Tenant);
                command.Parameters.AddWithValue("$channel", r.Channel);
                command.Parameters.AddWithValue("$requests", r.Requests);
                command.Parameters.AddWithValue("$errors", JsonSerializer.Serialize(r.ErrorsByStatus));
                command.Parameters.AddWithValue("$sse", r.SseConnections);
                command.Parameters.AddWithValue("$attempts", r.ResumeAttempts);
                command.Parameters.AddWithValue("$failures", r.ResumeFailures);
                command.Parameters.AddWithValue("$ttft", (object?)r.TtftP95Ms ?? DBNull.Value);
                command.Parameters.AddWithValue("$e2e", (object?)r.E2eP95Ms ?? DBNull.Value);
                command.Parameters.AddWithValue("$tokens", r.OutputTokens);
                command.ExecuteNonQuery();
            }

            SetResult(rows.Count);
        }
    }
}
