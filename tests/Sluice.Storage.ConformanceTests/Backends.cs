using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Sluice.Configuration;
using Sluice.Storage.Sqlite;
using Sluice.Streams;

namespace Sluice.Storage.ConformanceTests;

public sealed class MemoryEventLogConformance : EventLogConformance
{
    private protected override Task<IEventLog> CreateAsync(IOptionsMonitor<SluiceOptions> options, TimeProvider time) =>
        Task.FromResult<IEventLog>(new MemoryEventLog());

    private protected override Task<IEventLog?> ReopenAsync() => Task.FromResult<IEventLog?>(null);
}

public sealed class SqliteEventLogConformance : EventLogConformance
{
    private readonly string _path = Path.Combine(Directory.CreateTempSubdirectory("sluice-conf-").FullName, "sluice.db");
    private readonly List<SqliteDatabase> _databases = [];
    private IOptionsMonitor<SluiceOptions> _options = null!;
    private TimeProvider _time = null!;

    private protected override Task<IEventLog> CreateAsync(IOptionsMonitor<SluiceOptions> options, TimeProvider time)
    {
        _options = options;
        _time = time;
        return Task.FromResult<IEventLog>(Open());
    }

    private protected override async Task<IEventLog?> ReopenAsync()
    {
        foreach (var db in _databases)
        {
            await db.DisposeAsync();
        }

        _databases.Clear();
        return Open();
    }

    private SqliteEventLog Open()
    {
        var db = new SqliteDatabase(_path, "normal", NullLogger<SqliteDatabase>.Instance);
        _databases.Add(db);
        return new SqliteEventLog(db);
    }

    public override async Task DisposeAsync()
    {
        foreach (var db in _databases)
        {
            await db.DisposeAsync();
        }
    }
}
