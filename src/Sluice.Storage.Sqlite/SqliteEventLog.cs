using Microsoft.Data.Sqlite;
using Sluice.Streams;

namespace Sluice.Storage.Sqlite;

/// <summary>
/// <see cref="IEventLog"/> on the embedded SQLite database. Appends go through the single writer, which
/// keeps each stream's counters in memory (loaded on first use), so assigning ids costs no read.
/// </summary>
internal sealed class SqliteEventLog : IEventLog
{
    private readonly SqliteDatabase _db;

    /// <summary>How far behind a stream's last event its row's <c>last_event_at</c> may be (see AppendWrite).</summary>
    internal const long LastEventAtGranularityMs = 1_000;

    /// <summary>Streams whose counters the writer keeps; past it the cache starts over (a stream costs one SELECT to reload).</summary>
    internal const int MaxCachedStreams = 65_536;

    // Owned by the writer loop only. Bounded: stream ids are the clients' own, so a client that publishes to ever
    // new ids would otherwise grow it for the life of the process. Closed streams leave it at once.
    private readonly Dictionary<StreamKey, StreamState> _states = [];
    private WriterCommands? _commands;

    public SqliteEventLog(SqliteDatabase db)
    {
        _db = db;
    }

    public async ValueTask<AppendResult> AppendAsync(StreamKey key, AppendBatch batch, CancellationToken cancellationToken) =>
        await _db.WriteAsync(new AppendWrite(this, key, batch), cancellationToken);

    public ValueTask<IReadOnlyList<StoredEvent>> ReadAsync(StreamKey key, long afterId, int maxCount, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        using var connection = _db.OpenReader();
        using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT e.id, e.type, e.data, e.ts FROM streams s JOIN events e ON e.sk = s.sk
            WHERE s.tenant = $tenant AND s.stream_id = $stream AND e.id > $after
            ORDER BY e.id LIMIT $limit
            """;
        command.Parameters.AddWithValue("$tenant", key.Tenant);
        command.Parameters.AddWithValue("$stream", key.StreamId);
        command.Parameters.AddWithValue("$after", afterId);
        command.Parameters.AddWithValue("$limit", maxCount);
        using var reader = command.ExecuteReader();
        var result = new List<StoredEvent>();
        while (reader.Read())
        {
            result.Add(new StoredEvent(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(3))));
        }

        return ValueTask.FromResult<IReadOnlyList<StoredEvent>>(result);
    }

    public ValueTask<StreamInfo?> GetInfoAsync(StreamKey key, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        using var connection = _db.OpenReader();
        using var command = connection.CreateCommand();
        // The bounds and the time of the last event come from the events' primary key, not the streams row, which an
        // append no longer rewrites (see AppendWrite).
        command.CommandText = """
            SELECT COALESCE((SELECT MIN(id) FROM events WHERE sk = s.sk), s.first_id),
                   COALESCE((SELECT MAX(id) FROM events WHERE sk = s.sk), s.last_id),
                   s.created_at, s.closed_at,
                   COALESCE((SELECT ts FROM events WHERE sk = s.sk ORDER BY id DESC LIMIT 1), s.last_event_at)
            FROM streams s WHERE s.tenant = $tenant AND s.stream_id = $stream
            """;
        command.Parameters.AddWithValue("$tenant", key.Tenant);
        command.Parameters.AddWithValue("$stream", key.StreamId);
        using var reader = command.ExecuteReader();
        if (!reader.Read())
        {
            return ValueTask.FromResult<StreamInfo?>(null);
        }

        return ValueTask.FromResult<StreamInfo?>(new StreamInfo(
            key.StreamId,
            !reader.IsDBNull(3),
            reader.GetInt64(0),
            reader.GetInt64(1),
            DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(2)),
            reader.IsDBNull(3) ? null : DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(3)),
            DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(4))));
    }

    public async ValueTask<IReadOnlyList<StreamKey>> RemoveExpiredAsync(DateTimeOffset cutoff, CancellationToken cancellationToken)
    {
        var all = new List<StreamKey>();
        while (true)
        {
            // Bounded batches keep each transaction short, so appends queued behind it wait little.
            var removed = await _db.WriteAsync(new RemoveExpiredWrite(this, cutoff.ToUnixTimeMilliseconds(), 500), cancellationToken);
            all.AddRange(removed);
            if (removed.Count < 500)
            {
                return all;
            }
        }
    }

    public ValueTask PingAsync(CancellationToken cancellationToken)
    {
        using var connection = _db.OpenReader();
        SqliteDatabase.Execute(connection, "SELECT 1;");
        return ValueTask.CompletedTask;
    }

    private WriterCommands Commands(SqliteConnection connection) => _commands ??= new WriterCommands(connection);

    private StreamState? LoadState(SqliteConnection connection, SqliteTransaction transaction, StreamKey key)
    {
        if (_states.TryGetValue(key, out var state))
        {
            return state;
        }

        var command = Commands(connection).SelectStream;
        command.Transaction = transaction;
        command.Parameters["$tenant"].Value = key.Tenant;
        command.Parameters["$stream"].Value = key.StreamId;
        using var reader = command.ExecuteReader();
        if (!reader.Read())
        {
            return null;
        }

        state = new StreamState(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), !reader.IsDBNull(3)) { LastEventAtMs = reader.GetInt64(4) };
        Cache(key, state);
        return state;
    }

    /// <summary>How many streams' counters the writer holds (for tests).</summary>
    internal int CachedStreams => _states.Count;

    private void Cache(StreamKey key, StreamState state)
    {
        if (state.Closed)
        {
            return;
        }

        if (_states.Count >= MaxCachedStreams)
        {
            _states.Clear();
        }

        _states[key] = state;
    }

    private sealed class StreamState(long sk, long firstId, long lastId, bool closed)
    {
        public long Sk = sk;
        public long FirstId = firstId;
        public long LastId = lastId;
        public bool Closed = closed;

        /// <summary>The streams row's <c>last_event_at</c>, as last written.</summary>
        public long LastEventAtMs;
    }

    private sealed class AppendWrite(SqliteEventLog log, StreamKey key, AppendBatch batch)
        : SqliteWrite<AppendResult>
    {
        public override void Execute(SqliteConnection connection, SqliteTransaction transaction)
        {
            var commands = log.Commands(connection);
            var events = batch.Events;
            var ms = batch.At.ToUnixTimeMilliseconds();
            var state = log.LoadState(connection, transaction, key);
            if (state is { Closed: true })
            {
                SetResult(AppendResult.StreamClosed);
                return;
            }

            if (state is null)
            {
                var insert = commands.InsertStream;
                insert.Transaction = transaction;
                insert.Parameters["$tenant"].Value = key.Tenant;
                insert.Parameters["$stream"].Value = key.StreamId;
                insert.Parameters["$now"].Value = ms;
                state = new StreamState((long)insert.ExecuteScalar()!, 1, 0, false) { LastEventAtMs = ms };
                log.Cache(key, state);
            }

            var stored = new StoredEvent[events.Count];
            var insertEvent = commands.InsertEvent;
            insertEvent.Transaction = transaction;
            insertEvent.Parameters["$sk"].Value = state.Sk;
            insertEvent.Parameters["$ts"].Value = ms;
            for (var i = 0; i < events.Count; i++)
            {
                var e = events[i];
                var id = ++state.LastId;
                insertEvent.Parameters["$id"].Value = id;
                insertEvent.Parameters["$type"].Value = e.Type;
                insertEvent.Parameters["$data"].Value = e.Data;
                insertEvent.ExecuteNonQuery();
                stored[i] = new StoredEvent(id, e.Type, e.Data, DateTimeOffset.FromUnixTimeMilliseconds(ms));
            }

            state.Closed |= batch.Closes;
            var max = batch.KeepLast;
            if (state.LastId - state.FirstId + 1 > max)
            {
                state.FirstId = state.LastId - max + 1;
                var trim = commands.TrimEvents;
                trim.Transaction = transaction;
                trim.Parameters["$sk"].Value = state.Sk;
                trim.Parameters["$first"].Value = state.FirstId;
                trim.ExecuteNonQuery();
            }

            // The streams row is rewritten when the stream closes, or when its last_event_at (what the retention sweep
            // reads) is a second or more behind; not on every append. Each rewrite costs a page of the table and one of
            // the last_event_at index in the WAL: with them on every append a publish wrote 7.4 KB (issue 18). Ids and
            // the last event's time are read from the events' primary key instead, and the sweep allows for the second.
            if (!state.Closed && ms - state.LastEventAtMs < LastEventAtGranularityMs)
            {
                SetResult(AppendResult.Appended(stored));
                return;
            }

            state.LastEventAtMs = ms;
            var update = commands.UpdateStream;
            update.Transaction = transaction;
            update.Parameters["$sk"].Value = state.Sk;
            update.Parameters["$first"].Value = state.FirstId;
            update.Parameters["$last"].Value = state.LastId;
            update.Parameters["$closed"].Value = state.Closed ? ms : DBNull.Value;
            update.Parameters["$now"].Value = ms;
            update.ExecuteNonQuery();
            if (state.Closed)
            {
                // No append will succeed again: the 409 check reads the row.
                log._states.Remove(key);
            }

            SetResult(AppendResult.Appended(stored));
        }

        // The cached counters may hold this batch's uncommitted ids: reload from the database next time.
        public override void Rollback() => log._states.Clear();
    }

    private sealed class RemoveExpiredWrite(SqliteEventLog log, long cutoffMs, int limit) : SqliteWrite<List<StreamKey>>
    {
        public override void Execute(SqliteConnection connection, SqliteTransaction transaction)
        {
            var expired = new List<(long Sk, StreamKey Key)>();
            using (var select = connection.CreateCommand())
            {
                select.Transaction = transaction;
                // last_event_at may be up to a granule behind the stream's last event, never ahead: the index finds every
                // candidate, and the last event's own time decides, so no stream goes before Sluice:Retention:Age has passed.
                select.CommandText = """
                    SELECT sk, tenant, stream_id FROM streams s WHERE last_event_at < $cutoff
                    AND COALESCE((SELECT ts FROM events WHERE sk = s.sk ORDER BY id DESC LIMIT 1), last_event_at) < $cutoff
                    LIMIT $limit
                    """;
                select.Parameters.AddWithValue("$cutoff", cutoffMs);
                select.Parameters.AddWithValue("$limit", limit);
                using var reader = select.ExecuteReader();
                while (reader.Read())
                {
                    expired.Add((reader.GetInt64(0), new StreamKey(reader.GetString(1), reader.GetString(2))));
                }
            }

            using var deleteEvents = connection.CreateCommand();
            deleteEvents.Transaction = transaction;
            deleteEvents.CommandText = "DELETE FROM events WHERE sk = $sk";
            var skParam = deleteEvents.Parameters.Add("$sk", SqliteType.Integer);
            using var deleteStream = connection.CreateCommand();
            deleteStream.Transaction = transaction;
            deleteStream.CommandText = "DELETE FROM streams WHERE sk = $sk";
            var skParam2 = deleteStream.Parameters.Add("$sk", SqliteType.Integer);
            foreach (var (sk, key) in expired)
            {
                skParam.Value = sk;
                deleteEvents.ExecuteNonQuery();
                skParam2.Value = sk;
                deleteStream.ExecuteNonQuery();
                log._states.Remove(key);
            }

            SetResult([.. expired.Select(e => e.Key)]);
        }

        public override void Rollback() => log._states.Clear();
    }

    /// <summary>Prepared statements of the writer connection, reused for every append.</summary>
    private sealed class WriterCommands
    {
        public WriterCommands(SqliteConnection connection)
        {
            SelectStream = Create(connection, """
                SELECT s.sk, COALESCE((SELECT MIN(id) FROM events WHERE sk = s.sk), s.first_id),
                       COALESCE((SELECT MAX(id) FROM events WHERE sk = s.sk), s.last_id), s.closed_at, s.last_event_at
                FROM streams s WHERE s.tenant = $tenant AND s.stream_id = $stream
                """, "$tenant", "$stream");
            InsertStream = Create(connection, "INSERT INTO streams(tenant, stream_id, first_id, last_id, created_at, last_event_at) VALUES($tenant, $stream, 1, 0, $now, $now) RETURNING sk", "$tenant", "$stream", "$now");
            InsertEvent = Create(connection, "INSERT INTO events(sk, id, type, data, ts) VALUES($sk, $id, $type, $data, $ts)", "$sk", "$id", "$type", "$data", "$ts");
            UpdateStream = Create(connection, "UPDATE streams SET first_id = $first, last_id = $last, closed_at = $closed, last_event_at = $now WHERE sk = $sk", "$sk", "$first", "$last", "$closed", "$now");
            TrimEvents = Create(connection, "DELETE FROM events WHERE sk = $sk AND id < $first", "$sk", "$first");
        }

        public SqliteCommand SelectStream { get; }
        public SqliteCommand InsertStream { get; }
        public SqliteCommand InsertEvent { get; }
        public SqliteCommand UpdateStream { get; }
        public SqliteCommand TrimEvents { get; }

        private static SqliteCommand Create(SqliteConnection connection, string sql, params string[] parameters)
        {
            var command = connection.CreateCommand();
            command.CommandText = sql;
            foreach (var p in parameters)
            {
                command.Parameters.Add(new SqliteParameter(p, null));
            }

            return command;
        }
    }
}
