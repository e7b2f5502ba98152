using Microsoft.Data.Sqlite;
using Sluice.Tenancy;

namespace Sluice.Storage.Sqlite;

/// <summary>API keys and secrets in the embedded database, beside the events.</summary>
internal sealed class SqliteKeyStore(SqliteDatabase db) : IKeyStore
{
    private const string Columns = "id, tenant, roles, name, hash, created_at, expires_at, revoked_at";

    public async ValueTask AddAsync(ApiKeyRecord key, CancellationToken cancellationToken) =>
        await db.WriteAsync(new SqliteCommandWrite(c =>
        {
            c.CommandText = $"INSERT INTO api_keys({Columns}) VALUES($id, $tenant, $roles, $name, $hash, $created, $expires, NULL)";
            c.Parameters.AddWithValue("$id", key.Id);
            c.Parameters.AddWithValue("$tenant", key.Tenant);
            c.Parameters.AddWithValue("$roles", (int)key.Roles);
            c.Parameters.AddWithValue("$name", (object?)key.Name ?? DBNull.Value);
            c.Parameters.AddWithValue("$hash", key.Hash);
            c.Parameters.AddWithValue("$created", key.CreatedAt.ToUnixTimeMilliseconds());
            c.Parameters.AddWithValue("$expires", key.ExpiresAt is { } e ? e.ToUnixTimeMilliseconds() : DBNull.Value);
        }), cancellationToken);

    public ValueTask<ApiKeyRecord?> FindByHashAsync(string hash, CancellationToken cancellationToken) =>
        ValueTask.FromResult(Query($"SELECT {Columns} FROM api_keys WHERE hash = $p", hash).FirstOrDefault());

    public ValueTask<ApiKeyRecord?> FindByIdAsync(string id, CancellationToken cancellationToken) =>
        ValueTask.FromResult(Query($"SELECT {Columns} FROM api_keys WHERE id = $p", id).FirstOrDefault());

    public ValueTask<IReadOnlyList<ApiKeyRecord>> ListAsync(string? tenant, CancellationToken cancellationToken) =>
        ValueTask.FromResult<IReadOnlyList<ApiKeyRecord>>(tenant is null
            ? Query($"SELECT {Columns} FROM api_keys ORDER BY created_at, id", null)
            : Query($"SELECT {Columns} FROM api_keys WHERE tenant = $p ORDER BY created_at, id", tenant));

    public async ValueTask<bool> RevokeAsync(string id, DateTimeOffset at, CancellationToken cancellationToken) =>
        await db.WriteAsync(new SqliteCommandWrite(c =>
        {
            c.CommandText = "UPDATE api_keys SET revoked_at = $at WHERE id = $id AND revoked_at IS NULL";
            c.Parameters.AddWithValue("$id", id);
            c.Parameters.AddWithValue("$at", at.ToUnixTimeMilliseconds());
        }), cancellationToken) > 0;

    public ValueTask<bool> AnyAsync(CancellationToken cancellationToken)
    {
        using var connection = db.OpenReader();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT EXISTS(SELECT 1 FROM api_keys)";
        return ValueTask.FromResult((long)command.ExecuteScalar()! == 1);
    }

    public async ValueTask<byte[]> GetOrAddSecretAsync(string name, Func<byte[]> create, CancellationToken cancellationToken)
    {
        await db.WriteAsync(new SqliteCommandWrite(c =>
        {
            c.CommandText = "INSERT OR IGNORE INTO secrets(name, value) VALUES($name, $value)";
            c.Parameters.AddWithValue("$name", name);
            c.Parameters.AddWithValue("$value", create());
        }), cancellationToken);

        using var connection = db.OpenReader();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT value FROM secrets WHERE name = $name";
        command.Parameters.AddWithValue("$name", name);
        return (byte[])command.ExecuteScalar()!;
    }

    private List<ApiKeyRecord> Query(string sql, string? parameter)
    {
        using var connection = db.OpenReader();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        if (parameter is not null)
        {
            command.Parameters.AddWithValue("$p", parameter);
        }

        using var reader = command.ExecuteReader();
        var result = new List<ApiKeyRecord>();
        while (reader.Read())
        {
            result.Add(new ApiKeyRecord(
                reader.GetString(0),
                reader.GetString(1),
                (Roles)reader.GetInt32(2),
                reader.IsDBNull(3) ? null : reader.GetString(3),
                reader.GetString(4),
                DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(5)),
                reader.IsDBNull(6) ? null : DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(6)),
                reader.IsDBNull(7) ? null : DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(7))));
        }

        return result;
    }

}
