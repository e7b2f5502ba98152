using Microsoft.Extensions.Time.Testing;
using Sluice.Configuration;
using Sluice.Fanout;
using Sluice.Storage;
using Sluice.Streams;
using Sluice.Testing;

namespace Sluice.Core.Tests.Streams;

public sealed class RecentEventsCacheTests
{
    private static readonly StreamKey Key = new("t", "s");
    private readonly FakeTimeProvider _time = new();
    private readonly SluiceOptions _options = new() { Cache = { EventsPerStream = 16, MaxStreams = 10 } };

    private static StoredEvent E(long id) => new(id, EventTypes.Token, $"{{\"n\":{id}}}", DateTimeOffset.UnixEpoch);

    [Fact]
    public void Get_ReturnsOnlyTheConsecutiveCachedRun()
    {
        var cache = new RecentEventsCache(new StaticOptions(_options), _time);
        cache.Put(Key, [E(1), E(2), E(3)]);
        cache.Put(Key, [E(5)]);

        Assert.Equal([2L, 3L], cache.Get(Key, 1, 10).Select(e => e.Id));
        Assert.Equal([1L, 2L], cache.Get(Key, 0, 2).Select(e => e.Id));
        Assert.Empty(cache.Get(Key, 3, 10));
        Assert.Empty(cache.Get(new StreamKey("t", "other"), 0, 10));
    }

    [Fact]
    public async Task AStreamRemovedAndCreatedAgainElsewhere_IsNotServedFromItsOldEvents()
    {
        // Another node's retention removed the stream and a publisher created it again: ids start at 1 once more.
        var log = new MemoryEventLog();
        var hub = new StreamHub(log, new InProcessLiveFeed(), new StaticOptions(_options), _time, new RecentEventsCache(new StaticOptions(_options), _time));
        await hub.PublishAsync(Key, [new NewEvent(EventTypes.Token, "{\"old\":1}")], default);
        await log.RemoveExpiredAsync(_time.GetUtcNow().AddSeconds(1), default);
        _time.Advance(TimeSpan.FromSeconds(5));
        await log.AppendAsync(Key, AppendBatch.Of([new NewEvent(EventTypes.Token, "{\"new\":1}")], _time.GetUtcNow(), 100), default);

        var info = await hub.GetInfoAsync(Key, default);
        var fresh = await hub.ReadAsync(Key, 0, 10, default);

        Assert.NotNull(info);
        Assert.Equal("{\"new\":1}", Assert.Single(fresh).Data);
    }

    [Fact]
    public void Validate_KeepsEventsOfTheStreamAsCreated_DropsOlderOnes()
    {
        var cache = new RecentEventsCache(new StaticOptions(_options), _time);
        cache.Put(Key, [E(1), E(2)]);

        cache.Validate(Key, DateTimeOffset.UnixEpoch);
        var kept = cache.Get(Key, 0, 10).Count;
        cache.Validate(Key, DateTimeOffset.UnixEpoch.AddMilliseconds(1));

        Assert.Equal(2, kept);
        Assert.Empty(cache.Get(Key, 0, 10));
        Assert.Equal(0, cache.Bytes);
    }

    [Fact]
    public async Task Put_ManyNewStreamsFromManyThreads_EvictsWithoutThrowing()
    {
        var cache = new RecentEventsCache(new StaticOptions(_options), TimeProvider.System);
        using var start = new ManualResetEventSlim();

        var writers = Enumerable.Range(0, 4).Select(w => Task.Run(() =>
        {
            start.Wait();
            for (var i = 0; i < 50_000; i++)
            {
                cache.Put(new StreamKey("t", $"w{w}-{i}"), [E(1)]);
            }
        })).ToArray();
        start.Set();

        await Task.WhenAll(writers);
        // Any one writer's last stream may have been evicted by the others' later ones; one put after them all stays.
        cache.Put(new StreamKey("t", "after"), [E(1)]);
        Assert.Single(cache.Get(new StreamKey("t", "after"), 0, 10));
        Assert.InRange(cache.Count, 1, _options.Cache.MaxStreams);
    }

    [Fact]
    public void Put_BeyondMaxStreams_EvictsTheLeastRecentlyUsed()
    {
        var cache = new RecentEventsCache(new StaticOptions(_options), _time);
        for (var i = 0; i < 11; i++)
        {
            _time.Advance(TimeSpan.FromSeconds(1));
            cache.Put(new StreamKey("t", $"s{i}"), [E(1)]);
        }

        Assert.True(cache.Count <= 10);
        Assert.Empty(cache.Get(new StreamKey("t", "s0"), 0, 1));
        Assert.Single(cache.Get(new StreamKey("t", "s10"), 0, 1));
    }

    [Fact]
    public async Task HubRead_ServesCachedPrefixThenTheLog_AndForgetsStreamsRemovedByRetention()
    {
        var options = new StaticOptions(_options);
        var log = new MemoryEventLog();
        var cache = new RecentEventsCache(options, _time);
        var hub = new StreamHub(log, new InProcessLiveFeed(), options, _time, cache);
        await hub.PublishAsync(Key, [new NewEvent(EventTypes.Token, "{\"gen\":1}")], default);
        await log.AppendAsync(Key, AppendBatch.Of([new NewEvent(EventTypes.Token, "{\"gen\":1}")], _time.GetUtcNow(), _options.Retention.MaxEventsPerStream), default); // not through the hub: not cached

        var both = await hub.ReadAsync(Key, 0, 10, default);
        _time.Advance(TimeSpan.FromDays(2));
        var removed = await hub.RemoveExpiredAsync(_time.GetUtcNow() - TimeSpan.FromDays(1), default);
        await hub.PublishAsync(Key, [new NewEvent(EventTypes.Token, "{\"gen\":2}")], default);
        var reborn = await hub.ReadAsync(Key, 0, 10, default);

        Assert.Equal([1L, 2L], both.Select(e => e.Id));
        Assert.Equal(1, removed);
        Assert.Equal(["{\"gen\":2}"], reborn.Select(e => e.Data));
    }
}

public sealed class RecentEventsCacheBudgetTests
{
    private static readonly StreamKey Key = new("t", "s");

    [Fact]
    public void Put_LargeEvents_KeepsOnlyWhatFitsTheStreamsByteBudget()
    {
        var options = new SluiceOptions { Cache = { EventsPerStream = 1024, MaxBytesPerStream = 1024 * 1024 } };
        var cache = new RecentEventsCache(new StaticOptions(options), new FakeTimeProvider());
        var big = new string('x', 64 * 1024);

        for (var id = 1; id <= 100; id++)
        {
            cache.Put(Key, [new StoredEvent(id, EventTypes.Token, big, DateTimeOffset.UnixEpoch)]);
        }

        Assert.True(cache.Bytes <= 1024 * 1024, $"{cache.Bytes} bytes cached");
        Assert.Single(cache.Get(Key, 99, 10));
        Assert.Empty(cache.Get(Key, 0, 10));
    }

    [Fact]
    public void Put_OverTheGlobalBudget_DropsLeastRecentlyUsedStreams()
    {
        var time = new FakeTimeProvider();
        var options = new SluiceOptions { Cache = { MaxBytes = 100_000, MaxBytesPerStream = 1024 * 1024 } };
        var cache = new RecentEventsCache(new StaticOptions(options), time);
        var data = new string('x', 10_000);

        for (var s = 0; s < 10; s++)
        {
            time.Advance(TimeSpan.FromSeconds(1));
            cache.Put(new StreamKey("t", $"s{s}"), [new StoredEvent(1, EventTypes.Token, data, DateTimeOffset.UnixEpoch)]);
        }

        Assert.True(cache.Bytes <= 100_000, $"{cache.Bytes} bytes cached");
        Assert.Empty(cache.Get(new StreamKey("t", "s0"), 0, 1));
        Assert.Single(cache.Get(new StreamKey("t", "s9"), 0, 1));
    }
}
