using Sluice.Configuration;
using Sluice.Generations;
using Sluice.Storage.Redis;
using Sluice.Streams;
using Sluice.Testing;

namespace Sluice.Storage.ConformanceTests;

/// <summary>One suite for every <see cref="IGenerationLeases"/> backend: a lease has one holder at a time.</summary>
public abstract class LeaseConformance : IAsyncLifetime
{
    private protected static readonly StreamKey Stream = GenerationRecord.StreamKeyOf("acme", GenerationIds.New());

    private protected IGenerationLeases Leases { get; private set; } = null!;

    private protected abstract IGenerationLeases Create();

    public Task InitializeAsync()
    {
        Leases = Create();
        return Task.CompletedTask;
    }

    public virtual Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Acquire_IsRefusedWhileHeld_AndFreeAgainOnceReleased()
    {
        var first = await Leases.TryAcquireAsync(Stream, default);
        var second = await Leases.TryAcquireAsync(Stream, default);
        await Leases.ReleaseAsync(first!, default);
        var third = await Leases.TryAcquireAsync(Stream, default);

        Assert.NotNull(first);
        Assert.Null(second);
        Assert.NotNull(third);
        Assert.NotEqual(first!.Token, third!.Token);
    }

    [Fact]
    public async Task Renew_IsTheHoldersOnly()
    {
        var lease = await Leases.TryAcquireAsync(Stream, default);

        Assert.True(await Leases.RenewAsync(lease!, default));
        Assert.False(await Leases.RenewAsync(lease! with { Token = "someone-else" }, default));
    }

    [Fact]
    public async Task Release_WithAStaleToken_LeavesTheHoldersLease()
    {
        var lease = await Leases.TryAcquireAsync(Stream, default);

        await Leases.ReleaseAsync(lease! with { Token = "stale" }, default);

        Assert.Null(await Leases.TryAcquireAsync(Stream, default));
        Assert.True(await Leases.RenewAsync(lease!, default));
    }
}

public sealed class LocalLeaseConformance : LeaseConformance
{
    private protected override IGenerationLeases Create() => new LocalGenerationLeases();

    [Fact]
    public async Task NothingExpires_OnOneNode()
    {
        await Leases.TryAcquireAsync(Stream, default);

        Assert.False(Leases.Shared);
        Assert.Empty(await Leases.ExpiredAsync(10, default));
    }
}

[Collection(RedisCollection.Name)]
public sealed class RedisLeaseConformance(RedisFixture redis) : LeaseConformance
{
    private readonly RedisTestConnections _connections = new(redis);
    private readonly SluiceOptions _options = new() { Cluster = { LeaseTtl = TimeSpan.FromMilliseconds(300) } };
    private RedisConnection _connection = null!;

    private protected override IGenerationLeases Create()
    {
        _connection = _connections.Open();
        return new RedisGenerationLeases(_connection, new StaticOptions(_options));
    }

    public override async Task DisposeAsync() => await _connections.DisposeAsync();

    private async Task<AppendResult> AppendAsync(IEventLog log, string? fence, string type = EventTypes.Token) =>
        await log.AppendAsync(Stream, AppendBatch.Of([new NewEvent(type, """{"text":"x"}""")], DateTimeOffset.UtcNow, 1000, fence: fence), default);

    private async Task WaitExpiredAsync() =>
        await Eventually.ValueAsync(async () => await Leases.ExpiredAsync(10, default), s => s.Contains(Stream));

    [Fact]
    public async Task AnExpiredLease_IsListed_TakenOver_AndItsOldHolderIsFencedOut()
    {
        var log = new RedisEventLog(_connection);
        var old = await Leases.TryAcquireAsync(Stream, default);
        Assert.Equal(AppendStatus.Appended, (await AppendAsync(log, old!.Token)).Status);

        await WaitExpiredAsync();
        var taken = await Eventually.ValueAsync(async () => await Leases.TryAcquireAsync(Stream, default), l => l is not null);

        Assert.False(await Leases.RenewAsync(old, default));
        Assert.Equal(AppendStatus.LeaseLost, (await AppendAsync(log, old.Token)).Status);
        var ended = await AppendAsync(log, taken!.Token, EventTypes.Error);
        Assert.Equal(AppendStatus.Appended, ended.Status);
        Assert.Equal(2, ended.Events[0].Id);
        Assert.Equal(AppendStatus.LeaseLost, (await AppendAsync(log, old.Token)).Status);
    }

    [Fact]
    public async Task ALapsedLeaseNobodyTook_StaysItsHoldersToRenew_AndToAppendWith()
    {
        var log = new RedisEventLog(_connection);
        var lease = await Leases.TryAcquireAsync(Stream, default);

        // The key lapses (as through a Redis outage longer than the ttl's rest) but no reaper took it.
        await WaitExpiredAsync();
        await Eventually.ValueAsync(async () => await (await _connection.DatabaseAsync()).KeyExistsAsync(_connection.Keys.Lease(Stream)), exists => !exists);

        Assert.Equal(AppendStatus.Appended, (await AppendAsync(log, lease!.Token)).Status);
        Assert.True(await Leases.RenewAsync(lease, default));
        Assert.Null(await Leases.TryAcquireAsync(Stream, default));
    }

    [Fact]
    public async Task AReleasedLease_FencesOutItsToken_AndLeavesTheExpiryIndex()
    {
        var log = new RedisEventLog(_connection);
        var lease = await Leases.TryAcquireAsync(Stream, default);

        await Leases.ReleaseAsync(lease!, default);

        Assert.Equal(AppendStatus.LeaseLost, (await AppendAsync(log, lease!.Token)).Status);
        Assert.False(await Leases.RenewAsync(lease, default));
        Assert.DoesNotContain(Stream, await Leases.ExpiredAsync(10, default));
        Assert.Equal(AppendStatus.Appended, (await AppendAsync(log, null)).Status);
    }
}
