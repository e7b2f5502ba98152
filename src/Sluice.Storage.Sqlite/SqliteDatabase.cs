using System.Threading.Channels;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Sluice.Configuration;
using Sluice.Storage;

namespace Sluice.Storage.Sqlite;

/// <summary>
/// The embedded database: one file in WAL mode, read through pooled connections, written by one writer loop
/// that commits every queued write in one transaction (group commit). One writer means no SQLITE_BUSY and
/// lets the writer own the streams' id counters.
/// </summary>
/// <remarks>
/// synchronous=NORMAL in WAL mode: a commit is in the WAL before the append is acknowledged, so it survives
/// the process being killed (kill -9); only an OS crash or power loss can lose the last commits. Set
/// <c>Sluice:Sqlite:Synchronous=Full</c> for that too, at a cost in publish rate.
/// </remarks>
internal sealed partial class SqliteDatabase : IAsyncDisposable
{
    private const int MaxBatch = 512;

    /// <summary>WAL pages (4 KiB) past which the writer checkpoints after a commit: 32 MiB.</summary>
    private const int WriterCheckpointPages = 8192;

    /// <summary>Bytes the WAL file is cut back to when it starts over.</summary>
    private const long WalSizeLimit = 16L * 1024 * 1024;

    /// <summary>No write for this long: the WAL is checkpointed and truncated to nothing.</summary>
    private static readonly TimeSpan IdleTruncateAfter = TimeSpan.FromSeconds(2);

    private long _lastCommitTicks = Environment.TickCount64;
    private long _truncatedAtTicks;
    private readonly Channel<SqliteWrite> _writes = Channel.CreateBounded<SqliteWrite>(new BoundedChannelOptions(16_384)
    {
        SingleReader = true,
        FullMode = BoundedChannelFullMode.Wait,
    });

    private readonly SqliteConnection _writer;
    private readonly TaskCompletionSource _loopDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _checkpointDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ManualResetEventSlim _closing = new();
    private readonly ILogger<SqliteDatabase> _logger;

    public SqliteDatabase(IOptions<SluiceOptions> options, ILogger<SqliteDatabase> logger)
        : this(Path.Combine(options.Value.DataDir, "sluice.db"), options.Value.Sqlite.Synchronous, logger)
    {
    }

    public SqliteDatabase(string path, string synchronous, ILogger<SqliteDatabase> logger)
    {
        _logger = logger;
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (directory is not null)
        {
            DataDirectory.Secure(directory, logger);
        }

        DataDirectory.CreateOwnerOnlyFile(path);

        ConnectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();

        _writer = new SqliteConnection(ConnectionString);
        _writer.Open();
        Execute(_writer, "PRAGMA journal_mode=WAL;");
        Execute(_writer, $"PRAGMA synchronous={(synchronous.Equals("full", StringComparison.OrdinalIgnoreCase) ? "FULL" : "NORMAL")};");
        Execute(_writer, "PRAGMA busy_timeout=30000;");
        // Checkpoints move the WAL into the database and fsync both: on the writer's commit path at every 1000
        // pages they stalled every append queued behind them (first-token overhead p99 of 3-4 ms against 0.8 ms
        // on the memory store), so a background connection checkpoints every second (PASSIVE: never blocks the
        // writer). But a checkpoint that runs beside a writer never catches up with it, and the WAL only starts
        // over once one has: under sustained load it grew to 412 MB in the soak test (WalSoakTests, 60,032 publishes) and never shrank. So the
        // writer still checkpoints itself past 32 MiB of WAL (between its commits, where it catches up: the
        // background work has already copied most pages), the file is cut back to 16 MiB when the WAL starts
        // over, and an idle database truncates it (see CheckpointUntilClosed).
        Execute(_writer, $"PRAGMA wal_autocheckpoint={WriterCheckpointPages};");
        Execute(_writer, $"PRAGMA journal_size_limit={WalSizeLimit};");
        Migrate(_writer, path);
        // A dedicated thread, not a pool thread: SQLite's calls are synchronous, and under heavy fan-out the
        // pool's queue is long; a writer that waits in it delays every publish (measured: fan-out p50 5 s
        // with the loop on the pool, see docs/benchmarks.md).
        new Thread(WriteLoop) { IsBackground = true, Name = "sluice-sqlite-writer" }.Start();
        new Thread(CheckpointLoop) { IsBackground = true, Name = "sluice-sqlite-checkpoint" }.Start();
    }

    internal string ConnectionString { get; }

    /// <summary>Queues a write for the next group commit and waits until it is committed.</summary>
    internal async ValueTask<T> WriteAsync<T>(SqliteWrite<T> write, CancellationToken cancellationToken)
    {
        await _writes.Writer.WriteAsync(write, cancellationToken);
        return await write.Completion;
    }

    /// <summary>A pooled read connection. WAL lets readers run beside the writer.</summary>
    internal SqliteConnection OpenReader()
    {
        var connection = new SqliteConnection(ConnectionString);
        connection.Open();
        return connection;
    }

    private void WriteLoop()
    {
        var batch = new List<SqliteWrite>(MaxBatch);
        var reader = _writes.Reader;
        try
        {
            while (true)
            {
                while (batch.Count < MaxBatch && reader.TryRead(out var write))
                {
                    batch.Add(write);
                }

                if (batch.Count > 0)
                {
                    Commit(batch);
                    batch.Clear();
                    continue;
                }

                // Blocks this dedicated thread only, until a write is queued or the channel completes.
#pragma warning disable VSTHRD002
                if (!reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
#pragma warning restore VSTHRD002
                {
                    return;
                }
            }
        }
        finally
        {
            _loopDone.TrySetResult();
        }
    }

    private void CheckpointLoop()
    {
        using var connection = new SqliteConnection(ConnectionString);
        connection.Open();
        Execute(connection, "PRAGMA busy_timeout=1000;");
        try
        {
            CheckpointUntilClosed(connection);
        }
        finally
        {
            _checkpointDone.TrySetResult();
        }
    }

    private void CheckpointUntilClosed(SqliteConnection connection)
    {
        while (!_closing.Wait(TimeSpan.FromSeconds(1)))
        {
            try
            {
                var lastCommit = Volatile.Read(ref _lastCommitTicks);
                if (Environment.TickCount64 - lastCommit >= IdleTruncateAfter.TotalMilliseconds && _truncatedAtTicks != lastCommit)
                {
                    // Idle: nothing to stall, so wait for readers (busy_timeout) and give the file back.
                    // The first column is 1 when a reader kept it from finishing: the next second tries again.
                    if (Convert.ToInt64(Scalar(connection, "PRAGMA wal_checkpoint(TRUNCATE);"), System.Globalization.CultureInfo.InvariantCulture) == 0)
                    {
                        _truncatedAtTicks = lastCommit;
                    }
                }
                else
                {
                    Execute(connection, "PRAGMA wal_checkpoint(PASSIVE);");
                }
            }
            catch (SqliteException ex)
            {
                LogCheckpointFailed(ex);
            }
        }
    }

    private void Commit(List<SqliteWrite> batch)
    {
        try
        {
            using var transaction = _writer.BeginTransaction(deferred: false);
            foreach (var write in batch)
            {
                write.Execute(_writer, transaction);
            }

            transaction.Commit();
            Volatile.Write(ref _lastCommitTicks, Environment.TickCount64);
        }
        catch (Exception ex)
        {
            LogCommitFailed(ex, batch.Count);
            foreach (var write in batch)
            {
                write.Rollback();
                write.Fail(ex);
            }

            return;
        }

        foreach (var write in batch)
        {
            write.Committed();
        }
    }

    /// <summary>The layout this build writes; <c>PRAGMA user_version</c> records the one a file has.</summary>
    public static int SchemaVersion => SqliteSchema.Migrations.Length;

    /// <summary>
    /// Brings the file to <see cref="SchemaVersion"/> in one transaction (a failed migration leaves it as it was),
    /// and refuses a file written by a newer build: its tables may mean things this build does not know.
    /// </summary>
    private static void Migrate(SqliteConnection connection, string path)
    {
        var current = Convert.ToInt32(Scalar(connection, "PRAGMA user_version;"), System.Globalization.CultureInfo.InvariantCulture);
        if (current > SchemaVersion)
        {
            throw new InvalidOperationException(
                $"{Path.GetFullPath(path)} has schema version {current}, newer than this build's {SchemaVersion}: run the build that wrote it (or a newer one), or point Sluice:DataDir elsewhere.");
        }

        if (current == SchemaVersion)
        {
            return;
        }

        using var transaction = connection.BeginTransaction(deferred: false);
        for (var version = current + 1; version <= SchemaVersion; version++)
        {
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = SqliteSchema.Migrations[version - 1];
            command.ExecuteNonQuery();
        }

        using (var stamp = connection.CreateCommand())
        {
            stamp.Transaction = transaction;
            stamp.CommandText = $"PRAGMA user_version={SchemaVersion};";
            stamp.ExecuteNonQuery();
        }

        transaction.Commit();
    }

    private static object? Scalar(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar();
    }

    internal static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    public async ValueTask DisposeAsync()
    {
        _writes.Writer.TryComplete();
        await _loopDone.Task;
        _closing.Set();
        await _checkpointDone.Task;
        _closing.Dispose();
        _writer.Dispose();
        SqliteConnection.ClearPool(new SqliteConnection(ConnectionString));
    }

    [LoggerMessage(EventId = 3002, Level = LogLevel.Warning, Message = "SQLite background checkpoint failed; the next one retries")]
    private partial void LogCheckpointFailed(Exception exception);

    [LoggerMessage(EventId = 3001, Level = LogLevel.Error, Message = "SQLite commit of {Count} writes failed; all were rolled back")]
    private partial void LogCommitFailed(Exception exception, int count);
}
