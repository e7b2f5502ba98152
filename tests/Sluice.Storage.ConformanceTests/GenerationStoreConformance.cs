using Microsoft.Extensions.Logging.Abstractions;
using Sluice.Generations;
using Sluice.Storage.Redis;
using Sluice.Storage.Sqlite;

namespace Sluice.Storage.ConformanceTests;

/// <summary>One suite for every generation and prompt store backend.</summary>
public abstract class GenerationStoreConformance : IAsyncLifetime
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);

    private protected IGenerationStore Store { get; private set; } = null!;

    private protected IPromptStore Prompts { get; private set; } = null!;

    private protected abstract (IGenerationStore Store, IPromptStore Prompts) Create();

    /// <summary>The same data opened again (a restart); null for backends that keep nothing.</summary>
    private protected abstract Task<IGenerationStore?> ReopenAsync();

    public Task InitializeAsync()
    {
        (Store, Prompts) = Create();
        return Task.CompletedTask;
    }

    public virtual Task DisposeAsync() => Task.CompletedTask;

    private static GenerationRecord Record(string tenant = "acme", DateTimeOffset? at = null, GenerationStatus status = GenerationStatus.Queued) => new()
    {
        Id = GenerationIds.New(),
        Tenant = tenant,
        Model = "simulated/default",
        Status = status,
        CreatedAt = at ?? T0,
        TraceId = "trace-1",
    };

    [Fact]
    public async Task Create_ThenGet_ReturnsTheRecord_OnlyToItsTenant()
    {
        var record = Record();

        var result = await Store.CreateAsync(record, null, default);

        Assert.True(result.Created);
        Assert.Equal(record, await Store.GetAsync("acme", record.Id, default));
        Assert.Null(await Store.GetAsync("other", record.Id, default));
    }

    [Fact]
    public async Task Update_ReplacesTheRecord()
    {
        var record = Record();
        await Store.CreateAsync(record, null, default);
        var finished = record with
        {
            Status = GenerationStatus.Succeeded, FinishReason = "stop", Provider = "simulated", ProviderModel = "default",
            InputTokens = 3, OutputTokens = 7, TtftMs = 12, E2eMs = 40, LastEventId = 8, CompletedAt = T0.AddSeconds(1),
        };

        await Store.UpdateAsync(finished, default);

        Assert.Equal(finished, await Store.GetAsync("acme", record.Id, default));
    }

    [Fact]
    public async Task Update_OfAFinishedRecord_ChangesNothing()
    {
        // A reaper ended the generation (worker_lost); its old owner, back from a pause, must not rewrite the end.
        var record = Record();
        await Store.CreateAsync(record, null, default);
        var failed = record with { Status = GenerationStatus.Failed, ErrorCode = "worker_lost", CompletedAt = T0.AddSeconds(12) };
        await Store.UpdateAsync(failed, default);

        await Store.UpdateAsync(record with { Status = GenerationStatus.Running }, default);
        await Store.UpdateAsync(record with { Status = GenerationStatus.Succeeded, FinishReason = "stop", CompletedAt = T0.AddSeconds(20) }, default);

        Assert.Equal(failed, await Store.GetAsync("acme", record.Id, default));
        Assert.DoesNotContain(await Store.ListUnfinishedAsync(default), r => r.Id == record.Id);
    }

    [Fact]
    public async Task Idempotency_SameKeyWithinTheWindow_ReturnsTheFirstGenerationAndItsHash()
    {
        var first = Record();
        var claim = new IdempotencyClaim("key-1", "hash-a", T0.AddHours(-24));
        Assert.True((await Store.CreateAsync(first, claim, default)).Created);

        var second = await Store.CreateAsync(Record(), claim with { RequestHash = "hash-b" }, default);

        Assert.False(second.Created);
        Assert.Equal(first.Id, second.Record.Id);
        Assert.Equal("hash-a", second.ExistingRequestHash);
        Assert.Null(await Store.GetAsync("acme", Record().Id, default));
    }

    [Fact]
    public async Task Idempotency_KeysAreScopedPerTenant_AndExpireAfterTheWindow()
    {
        var claim = new IdempotencyClaim("shared", "h", T0.AddHours(-24));
        await Store.CreateAsync(Record("acme"), claim, default);

        Assert.True((await Store.CreateAsync(Record("globex"), claim, default)).Created);
        var later = Record("acme", T0.AddHours(25));
        Assert.True((await Store.CreateAsync(later, claim with { NotBefore = T0.AddHours(1) }, default)).Created);
    }

    [Fact]
    public async Task List_NewestFirst_FilteredByStatus_Limited()
    {
        var a = Record(at: T0);
        var b = Record(at: T0.AddSeconds(1), status: GenerationStatus.Running);
        var c = Record(at: T0.AddSeconds(2));
        foreach (var r in new[] { a, b, c, Record("other") })
        {
            await Store.CreateAsync(r, null, default);
        }

        Assert.Equal([c.Id, b.Id, a.Id], (await Store.ListAsync("acme", null, 10, default)).Select(r => r.Id));
        Assert.Equal([b.Id], (await Store.ListAsync("acme", GenerationStatus.Running, 10, default)).Select(r => r.Id));
        Assert.Equal([c.Id], (await Store.ListAsync("acme", null, 1, default)).Select(r => r.Id));
    }

    [Fact]
    public async Task ListUnfinished_ReturnsQueuedAndRunningOfEveryTenant()
    {
        var queued = Record("acme");
        var running = Record("globex", status: GenerationStatus.Running);
        var done = Record(status: GenerationStatus.Succeeded);
        foreach (var r in new[] { queued, running, done })
        {
            await Store.CreateAsync(r, null, default);
        }

        Assert.Equal(new[] { queued.Id, running.Id }.Order(), (await Store.ListUnfinishedAsync(default)).Select(r => r.Id).Order());
    }

    [Fact]
    public async Task RemoveFinished_RemovesOnlyFinishedBeforeTheCutoff()
    {
        var old = Record(status: GenerationStatus.Succeeded) with { CompletedAt = T0 };
        var recent = Record(status: GenerationStatus.Failed) with { CompletedAt = T0.AddHours(2) };
        var running = Record(status: GenerationStatus.Running);
        foreach (var r in new[] { old, recent, running })
        {
            await Store.CreateAsync(r, null, default);
        }

        Assert.Equal(1, await Store.RemoveFinishedAsync(T0.AddHours(1), default));
        Assert.Null(await Store.GetAsync("acme", old.Id, default));
        Assert.NotNull(await Store.GetAsync("acme", recent.Id, default));
        Assert.NotNull(await Store.GetAsync("acme", running.Id, default));
    }

    [Fact]
    public async Task Records_SurviveAReopen()
    {
        var record = Record();
        await Store.CreateAsync(record, new IdempotencyClaim("k", "h", T0.AddDays(-1)), default);

        var reopened = await ReopenAsync();
        if (reopened is null)
        {
            return; // memory keeps nothing across a restart, by design
        }

        Assert.Equal(record, await reopened.GetAsync("acme", record.Id, default));
        Assert.False((await reopened.CreateAsync(Record(), new IdempotencyClaim("k", "h", T0.AddDays(-1)), default)).Created);
    }

    [Fact]
    public async Task Prompts_VersionsNumberFromOnePerPromptAndTenant_ActivateOnlyExisting()
    {
        var v1 = await Prompts.AddVersionAsync("acme", "p", "Hello {{name}}", "simulated/default", null, T0, default);
        var v2 = await Prompts.AddVersionAsync("acme", "p", "Hi {{name}}", null, """{"max_tokens":5}""", T0.AddMinutes(1), default);
        var other = await Prompts.AddVersionAsync("globex", "p", "Other", null, null, T0, default);

        Assert.Equal((1, 2, 1), (v1.Version, v2.Version, other.Version));
        Assert.False(await Prompts.ActivateAsync("acme", "p", 3, default));
        Assert.False(await Prompts.ActivateAsync("acme", "missing", 1, default));
        Assert.True(await Prompts.ActivateAsync("acme", "p", 2, default));

        var prompt = await Prompts.GetAsync("acme", "p", default);
        Assert.Equal(2, prompt!.ActiveVersion);
        Assert.Equal(["Hello {{name}}", "Hi {{name}}"], prompt.Versions.Select(v => v.Template));
        Assert.Equal("""{"max_tokens":5}""", prompt.Versions[1].ParamsJson);
        Assert.Null((await Prompts.GetAsync("globex", "p", default))!.ActiveVersion);
        Assert.Null(await Prompts.GetAsync("acme", "none", default));
    }
}

public sealed class MemoryGenerationStoreConformance : GenerationStoreConformance
{
    private protected override (IGenerationStore, IPromptStore) Create() => (new MemoryGenerationStore(), new MemoryPromptStore());

    private protected override Task<IGenerationStore?> ReopenAsync() => Task.FromResult<IGenerationStore?>(null);
}

public sealed class SqliteGenerationStoreConformance : GenerationStoreConformance
{
    private readonly string _path = Path.Combine(Directory.CreateTempSubdirectory("sluice-gen-").FullName, "sluice.db");
    private readonly List<SqliteDatabase> _databases = [];

    private protected override (IGenerationStore, IPromptStore) Create()
    {
        var db = Open();
        return (new SqliteGenerationStore(db), new SqlitePromptStore(db));
    }

    private protected override async Task<IGenerationStore?> ReopenAsync()
    {
        foreach (var db in _databases)
        {
            await db.DisposeAsync();
        }

        _databases.Clear();
        return new SqliteGenerationStore(Open());
    }

    private SqliteDatabase Open()
    {
        var db = new SqliteDatabase(_path, "normal", NullLogger<SqliteDatabase>.Instance);
        _databases.Add(db);
        return db;
    }

    public override async Task DisposeAsync()
    {
        foreach (var db in _databases)
        {
            await db.DisposeAsync();
        }
    }
}

[Collection(RedisCollection.Name)]
public sealed class RedisGenerationStoreConformance(RedisFixture redis) : GenerationStoreConformance
{
    private readonly RedisTestConnections _connections = new(redis);

    private protected override (IGenerationStore, IPromptStore) Create()
    {
        var connection = _connections.Open();
        return (new RedisGenerationStore(connection), new RedisPromptStore(connection));
    }

    private protected override Task<IGenerationStore?> ReopenAsync() => Task.FromResult<IGenerationStore?>(new RedisGenerationStore(_connections.Open()));

    public override async Task DisposeAsync() => await _connections.DisposeAsync();
}
