using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Sluice.Configuration;
using Sluice.Fanout;
using Sluice.Storage.Redis;
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

[Collection(RedisCollection.Name)]
public sealed class RedisEventLogConformance(RedisFixture redis) : EventLogConformance
{
    private readonly RedisTestConnections _connections = new(redis);

    private protected override Task<IEventLog> CreateAsync(IOptionsMonitor<SluiceOptions> options, TimeProvider time) =>
        Task.FromResult<IEventLog>(new RedisEventLog(_connections.Open()));

    private protected override Task<IEventLog?> ReopenAsync() => Task.FromResult<IEventLog?>(new RedisEventLog(_connections.Open()));

    public override async Task DisposeAsync() => await _connections.DisposeAsync();
}

public sealed class InProcessLiveFeedConformance : LiveFeedConformance
{
    private protected override Task<Node> CreateNodeAsync() => Task.FromResult(new Node(new MemoryEventLog(), new InProcessLiveFeed()));

    private protected override Task<Node> CreatePeerAsync(Node node) => Task.FromResult(node);
}

[Collection(RedisCollection.Name)]
public sealed class RedisLiveFeedConformance(RedisFixture redis) : LiveFeedConformance
{
    private readonly RedisTestConnections _connections = new(redis);
    private readonly List<RedisLiveFeed> _feeds = [];

    private protected override Task<Node> CreateNodeAsync() => Task.FromResult(Open());

    private protected override Task<Node> CreatePeerAsync(Node node) => Task.FromResult(Open());

    private Node Open()
    {
        var connection = _connections.Open();
        var feed = new RedisLiveFeed(connection, NullLogger<RedisLiveFeed>.Instance);
        _feeds.Add(feed);
        return new Node(new RedisEventLog(connection), feed);
    }

    /// <summary>The script publishes with the append, so another node hears of it in id order, with no Announce at all.</summary>
    [Fact]
    public async Task AppendOnAnotherNode_ArrivesInIdOrder_WithoutAnnounce()
    {
        var writer = Open();
        var reader = Open();
        var listener = new Recorder();
        using var _ = await reader.Feed.ListenAsync(new StreamKey("acme", "ordered"), listener, default);

        await Task.WhenAll(Enumerable.Range(0, 8).Select(w => Task.Run(async () =>
        {
            for (var i = 0; i < 25; i++)
            {
                await writer.Log.AppendAsync(new StreamKey("acme", "ordered"), AppendBatch.Of([new NewEvent("token", "{}")], DateTimeOffset.UtcNow, 1000), default);
            }
        })));

        await listener.UntilAsync(200);
        Assert.Equal(Enumerable.Range(1, 200).Select(i => (long)i), listener.Batches.SelectMany(b => b).Select(e => e.Id));
    }

    /// <summary>What was published while the subscription was down is lost to pub/sub: the listener is told to read the log.</summary>
    [Fact]
    public async Task SubscriptionConnectionKilled_ListenerIsToldItMissedAnnouncements()
    {
        var reader = Open();
        var listener = new Recorder();
        using var _ = await reader.Feed.ListenAsync(new StreamKey("acme", "killed"), listener, default);

        var killed = await _connections.Server.CommandAsync("CLIENT KILL TYPE pubsub");
        if (killed == ":0")
        {
            // RESP3 carries subscriptions on the interactive connection: kill the normal clients instead.
            await _connections.Server.CommandAsync("CLIENT KILL TYPE normal SKIPME yes");
        }

        await listener.MissedSignal.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(((RedisLiveFeed)reader.Feed).Resubscribes >= 1);
    }

    /// <summary>
    /// A subscription gone while its connection stays up (nchan#371, centrifugo#1189): nothing reconnects, so only
    /// the probe can notice. Unsubscribing behind the feed's back makes exactly that state on a real Redis.
    /// </summary>
    [Fact]
    public async Task SubscriptionGoneSilently_TheProbeFindsIt_AndTheStreamIsSubscribedAgain()
    {
        var connection = _connections.Open();
        var feed = new RedisLiveFeed(connection, NullLogger<RedisLiveFeed>.Instance);
        _feeds.Add(feed);
        var key = new StreamKey("acme", "silent");
        var listener = new Recorder();
        using var _ = await feed.ListenAsync(key, listener, default);
        using var probe = new RedisStoreProbe(connection, feed, new RedisStoreFaults(), TimeProvider.System, NullLogger<RedisStoreProbe>.Instance);
        await probe.ProbeAsync();
        await probe.ProbeAsync();
        Assert.True(probe.IsUp);
        Assert.Equal(0, feed.Resubscribes);

        await (await connection.MultiplexerAsync()).GetSubscriber().UnsubscribeAllAsync();
        var writer = Open();
        await writer.Log.AppendAsync(key, AppendBatch.Of([new NewEvent("token", "{}")], DateTimeOffset.UtcNow, 1000), default);
        for (var i = 0; i < 3; i++)
        {
            await probe.ProbeAsync();
        }

        Assert.Equal(1, feed.Resubscribes);
        await listener.MissedSignal.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await writer.Log.AppendAsync(key, AppendBatch.Of([new NewEvent("token", "{}")], DateTimeOffset.UtcNow, 1000), default);
        Assert.Equal(2, (await listener.UntilAsync(1)).Single().Id);
        Assert.Equal(1, feed.Resubscribes);
    }

    public override async Task DisposeAsync()
    {
        foreach (var feed in _feeds)
        {
            await feed.DisposeAsync();
        }

        await _connections.DisposeAsync();
    }
}
