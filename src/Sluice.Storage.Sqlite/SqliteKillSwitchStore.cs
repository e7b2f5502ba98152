using Sluice.Resilience;

namespace Sluice.Storage.Sqlite;

/// <summary>Kill-switches in the embedded database: one row per switched-off provider.</summary>
internal sealed class SqliteKillSwitchStore(SqliteDatabase db) : IKillSwitchStore
{
    public async ValueTask SetAsync(string provider, KillSwitch? kill, CancellationToken cancellationToken) =>
        await db.WriteAsync(new SqliteCommandWrite(c =>
        {
            c.Parameters.AddWithValue("$provider", provider);
            if (kill is null)
            {
                c.CommandText = "DELETE FROM kill_switches WHERE provider = $provider";
                return;
            }

            c.CommandText = """
                INSERT INTO kill_switches(provider, since, expires_at, reason, actor_key_id) VALUES($provider, $since, $expires, $reason, $actor)
                ON CONFLICT(provider) DO UPDATE SET since = excluded.since, expires_at = excluded.expires_at, reason = excluded.reason, actor_key_id = excluded.actor_key_id
                """;
            c.Parameters.AddWithValue("$since", kill.Since.ToUnixTimeMilliseconds());
            c.Parameters.AddWithValue("$expires", kill.ExpiresAt.ToUnixTimeMilliseconds());
            c.Parameters.AddWithValue("$reason", (object?)kill.Reason ?? DBNull.Value);
            c.Parameters.AddWithValue("$actor", kill.ActorKeyId);
        }), cancellationToken);

    public ValueTask<IReadOnlyDictionary<string, KillSwitch>> ActiveAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        using var connection = db.OpenReader();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT provider, since, expires_at, reason, actor_key_id FROM kill_switches WHERE expires_at > $now";
        command.Parameters.AddWithValue("$now", now.ToUnixTimeMilliseconds());
        using var reader = command.ExecuteReader();
        var active = new Dictionary<string, KillSwitch>(StringComparer.Ordinal);
        while (reader.Read())
        {
            active[reader.GetString(0)] = new KillSwitch(DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(1)), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(2)),
                reader.IsDBNull(3) ? null : reader.GetString(3), reader.GetString(4));
        }

        return ValueTask.FromResult<IReadOnlyDictionary<string, KillSwitch>>(active);
    }
}
