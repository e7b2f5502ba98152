using System.Collections.Concurrent;
using Sluice.Fanout;
using Sluice.Streams;

namespace Sluice.Storage.ConformanceTests;

/// <summary>
/// One suite for every <see cref="ILiveFeed"/>. A node is a log and a feed as a hub holds them; an append is made
/// as the hub makes it (log, then <see cref="ILiveFeed.Announce"/>). A cluster feed gives a second node over the
/// same store; the in-process feed's "other node" is itself, so the same assertions hold for both.
/// </summary>
public abstract class LiveFeedConformance : IAsyncLifetime
{
    private protected sealed record Node(IEventLog Log, ILiveFeed Feed);

    private protected abstract Task<Node> CreateNodeAsync();

    /// <summary>Another node over the same store (the in-process feed returns the same node).</summary>
    private protected abstract Task<Node> CreatePeerAsync(Node node);

    public virtual Task InitializeAsync() => Task.CompletedTask;

    public virtual Task DisposeAsync() => Task.CompletedTask;

    private static readonly StreamKey A = new("acme", "s1");
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private static NewEvent Token(int n) => new(EventTypes.Token, $"{{\"n\":{n}}}");

    private protected static async Task<IReadOnlyList<StoredEvent>> PublishAsync(Node node, StreamKey key, params NewEvent[] events)
    {
        var result = await node.Log.AppendAsync(key, AppendBatch.Of(events, DateTimeOffset.UtcNow, 1000), default);
        node.Feed.Announce(key, result.Events);
        return result.Events;
    }

    [Fact]
    public async Task Listen_ThenAppendOnAnyNode_DeliversEachEventWithItsIdTypeAndData()
    {
        var writer = await CreateNodeAsync();
        var reader = await CreatePeerAsync(writer);
        var listener = new Recorder();
        using var _ = await reader.Feed.ListenAsync(A, listener, default);

        await PublishAsync(writer, A, Token(1), Token(2));
        await PublishAsync(writer, A, new NewEvent(EventTypes.Done, "{\"x\":\"é\"}"));

        var events = await listener.UntilAsync(3);
        Assert.Equal([1L, 2L, 3L], events.Select(e => e.Id));
        Assert.Equal(["{\"n\":1}", "{\"n\":2}", "{\"x\":\"é\"}"], events.Select(e => e.Data));
        Assert.Equal([EventTypes.Token, EventTypes.Token, EventTypes.Done], events.Select(e => e.Type));
    }

    [Fact]
    public async Task Listen_DeliversOnlyItsStream_NotAnotherTenantsStreamOfTheSameId()
    {
        var writer = await CreateNodeAsync();
        var reader = await CreatePeerAsync(writer);
        var listener = new Recorder();
        using var _ = await reader.Feed.ListenAsync(A, listener, default);

        await PublishAsync(writer, new StreamKey("other", A.StreamId), Token(7));
        await PublishAsync(writer, new StreamKey(A.Tenant, "s2"), Token(8));
        await PublishAsync(writer, A, Token(1));

        // The other streams' events were announced first: had any reached this listener, it would be seen by now.
        var events = await listener.UntilAsync(1);
        Assert.Equal(["{\"n\":1}"], events.Select(e => e.Data));
    }

    [Fact]
    public async Task Dispose_StopsDeliveryToThatListenerOnly()
    {
        var writer = await CreateNodeAsync();
        var reader = await CreatePeerAsync(writer);
        var gone = new Recorder();
        var stays = new Recorder();
        var registration = await reader.Feed.ListenAsync(A, gone, default);
        using var _ = await reader.Feed.ListenAsync(A, stays, default);
        await PublishAsync(writer, A, Token(1));
        await gone.UntilAsync(1);

        registration.Dispose();
        registration.Dispose();
        await PublishAsync(writer, A, Token(2));

        Assert.Equal([1L, 2L], (await stays.UntilAsync(2)).Select(e => e.Id));
        Assert.Equal([1L], gone.Distinct().Select(e => e.Id));
    }

    [Fact]
    public async Task ConcurrentAppends_EveryIdReachesTheListener_EachBatchInOrder()
    {
        var writer = await CreateNodeAsync();
        var reader = await CreatePeerAsync(writer);
        var listener = new Recorder();
        using var _ = await reader.Feed.ListenAsync(A, listener, default);

        await Task.WhenAll(Enumerable.Range(0, 8).Select(w => Task.Run(async () =>
        {
            for (var i = 0; i < 25; i++)
            {
                await PublishAsync(writer, A, Token(i), Token(i));
            }
        })));

        var events = await listener.UntilAsync(400);
        Assert.Equal(Enumerable.Range(1, 400).Select(i => (long)i), events.Select(e => e.Id));
        Assert.All(listener.Batches, b => Assert.Equal(b.OrderBy(e => e.Id).Select(e => e.Id), b.Select(e => e.Id)));
    }

    /// <summary>Records what a feed delivers; <see cref="UntilAsync"/> waits for a count of distinct ids, no sleeping.</summary>
    private protected sealed class Recorder : ILiveListener
    {
        private readonly ConcurrentQueue<IReadOnlyList<StoredEvent>> _batches = new();
        private readonly SemaphoreSlim _arrived = new(0);
        private int _missed;

        public IEnumerable<IReadOnlyList<StoredEvent>> Batches => _batches;

        public int Missed => Volatile.Read(ref _missed);

        public TaskCompletionSource MissedSignal { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void OnEvents(IReadOnlyList<StoredEvent> events)
        {
            _batches.Enqueue([.. events]);
            _arrived.Release();
        }

        public void OnMissed()
        {
            Interlocked.Increment(ref _missed);
            MissedSignal.TrySetResult();
        }

        /// <summary>The events by id, each once (a feed may repeat an announcement).</summary>
        public IReadOnlyList<StoredEvent> Distinct() =>
            [.. _batches.SelectMany(b => b).GroupBy(e => e.Id).Select(g => g.First()).OrderBy(e => e.Id)];

        public async Task<IReadOnlyList<StoredEvent>> UntilAsync(int count)
        {
            using var timeout = new CancellationTokenSource(Wait);
            while (Distinct().Count < count)
            {
                await _arrived.WaitAsync(timeout.Token);
            }

            return Distinct();
        }
    }
}
