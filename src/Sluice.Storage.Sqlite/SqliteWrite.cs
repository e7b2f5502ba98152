using Microsoft.Data.Sqlite;

namespace Sluice.Storage.Sqlite;

/// <summary>One unit of work for the writer loop; it runs inside the batch's transaction.</summary>
internal abstract class SqliteWrite
{
    public abstract void Execute(SqliteConnection connection, SqliteTransaction transaction);

    /// <summary>After the batch committed: publish in-memory effects and complete the caller.</summary>
    public abstract void Committed();

    /// <summary>The batch rolled back: forget in-memory effects.</summary>
    public virtual void Rollback()
    {
    }

    public abstract void Fail(Exception exception);
}

internal abstract class SqliteWrite<T> : SqliteWrite
{
    private readonly TaskCompletionSource<T> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private T? _result;

    public Task<T> Completion => _completion.Task;

    protected void SetResult(T result) => _result = result;

    public override void Committed() => _completion.TrySetResult(_result!);

    public override void Fail(Exception exception) => _completion.TrySetException(exception);
}

/// <summary>One prepared statement in the batch's transaction; its result is the number of rows it changed.</summary>
internal sealed class SqliteCommandWrite(Action<SqliteCommand> prepare) : SqliteWrite<int>
{
    public override void Execute(SqliteConnection connection, SqliteTransaction transaction)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        prepare(command);
        SetResult(command.ExecuteNonQuery());
    }
}
