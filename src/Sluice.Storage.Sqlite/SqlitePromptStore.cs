using Microsoft.Data.Sqlite;
using Sluice.Generations;

namespace Sluice.Storage.Sqlite;

/// <summary>The prompt registry in the embedded database; version numbers are assigned in the writer transaction.</summary>
internal sealed class SqlitePromptStore(SqliteDatabase db) : IPromptStore
{
    public async ValueTask<PromptVersion> AddVersionAsync(string tenant, string promptId, string template, string? model, string? paramsJson, DateTimeOffset at, CancellationToken cancellationToken)
    {
        var version = await db.WriteAsync(new AddWrite(tenant, promptId, template, model, paramsJson, at), cancellationToken);
        return new PromptVersion(promptId, version, template, model, paramsJson, at);
    }

    public async ValueTask<bool> ActivateAsync(string tenant, string promptId, int version, CancellationToken cancellationToken) =>
        await db.WriteAsync(new SqliteCommandWrite(c =>
        {
            c.CommandText = """
                INSERT INTO prompts(tenant, prompt_id, active_version)
                SELECT $tenant, $prompt, $version WHERE EXISTS(SELECT 1 FROM prompt_versions WHERE tenant = $tenant AND prompt_id = $prompt AND version = $version)
                ON CONFLICT(tenant, prompt_id) DO UPDATE SET active_version = excluded.active_version
                """;
            c.Parameters.AddWithValue("$tenant", tenant);
            c.Parameters.AddWithValue("$prompt", promptId);
            c.Parameters.AddWithValue("$version", version);
        }), cancellationToken) > 0;

    public ValueTask<Prompt?> GetAsync(string tenant, string promptId, CancellationToken cancellationToken)
    {
        using var connection = db.OpenReader();
        using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT v.version, v.template, v.model, v.params, v.created_at, p.active_version
            FROM prompt_versions v LEFT JOIN prompts p ON p.tenant = v.tenant AND p.prompt_id = v.prompt_id
            WHERE v.tenant = $tenant AND v.prompt_id = $prompt ORDER BY v.version
            """;
        command.Parameters.AddWithValue("$tenant", tenant);
        command.Parameters.AddWithValue("$prompt", promptId);
        using var reader = command.ExecuteReader();
        var versions = new List<PromptVersion>();
        int? active = null;
        while (reader.Read())
        {
            versions.Add(new PromptVersion(promptId, reader.GetInt32(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2),
                reader.IsDBNull(3) ? null : reader.GetString(3), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(4))));
            active = reader.IsDBNull(5) ? null : reader.GetInt32(5);
        }

        return ValueTask.FromResult(versions.Count == 0 ? null : new Prompt(promptId, versions, active));
    }

    private sealed class AddWrite(string tenant, string promptId, string template, string? model, string? paramsJson, DateTimeOffset at) : SqliteWrite<int>
    {
        public override void Execute(SqliteConnection connection, SqliteTransaction transaction)
        {
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = """
                INSERT INTO prompt_versions(tenant, prompt_id, version, template, model, params, created_at)
                VALUES($tenant, $prompt, (SELECT COALESCE(MAX(version), 0) + 1 FROM prompt_versions WHERE tenant = $tenant AND prompt_id = $prompt), $template, $model, $params, $at)
                RETURNING version
                """;
            command.Parameters.AddWithValue("$tenant", tenant);
            command.Parameters.AddWithValue("$prompt", promptId);
            command.Parameters.AddWithValue("$template", template);
            command.Parameters.AddWithValue("$model", (object?)model ?? DBNull.Value);
            command.Parameters.AddWithValue("$params", (object?)paramsJson ?? DBNull.Value);
            command.Parameters.AddWithValue("$at", at.ToUnixTimeMilliseconds());
            SetResult(Convert.ToInt32(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture));
        }
    }
}
