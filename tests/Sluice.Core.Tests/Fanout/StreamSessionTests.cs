using System.IO.Pipelines;
using System.Text;
using Microsoft.Extensions.Time.Testing;
using Sluice.Configuration;
using Sluice.Fanout;
using Sluice.Storage;
using Sluice.Streams;
using Sluice.Testing;

namespace Sluice.Core.Tests.Fanout;

public sealed class StreamSessionTests
{
    private static readonly StreamKey Key = new("t", "s");
    private readonly SluiceOptions _options = new() { Limits = { SubscriberBufferEvents = 8 } };
    private readonly FakeTimeProvider _time = new();
    private readonly InProcessLiveFeed _feed;
    private readonly MemoryEventLog _log;
    private readonly StreamHub _hub;

    public StreamSessionTests()
    {
        var monitor = new StaticOptions(_options);
        _log = new MemoryEventLog();
        _feed = new InProcessLiveFeed();
        _hub = new StreamHub(_log, _feed, monitor, _time);
    }

    private static NewEvent Token(int n) => new(EventTypes.Token, $"{{\"n\":{n}}}");

    [Fact]
    public async Task Run_AnnouncementsOutOfOrderOrLost_DeliversEveryEventOnceInOrder()
    {
        await _log.AppendAsync(Key, AppendBatch.Of([Token(1)], _time.GetUtcNow(), _options.Retention.MaxEventsPerStream), default);
        var pipe = new Pipe();
        using var subscription = _hub.CreateSubscription(Key, default);
        var session = new StreamSession(_hub, Key, pipe.Writer, 0);
        var run = session.RunAsync(subscription);
        await Eventually.TrueAsync(() => _hub.Fanout.TopicCount == 1);

        var late = await _log.AppendAsync(Key, AppendBatch.Of([Token(2), Token(3)], _time.GetUtcNow(), _options.Retention.MaxEventsPerStream), default);
        var later = await _log.AppendAsync(Key, AppendBatch.Of([Token(4)], _time.GetUtcNow(), _options.Retention.MaxEventsPerStream), default);
        _feed.Announce(Key, later.Events);             // 4 arrives before 2 and 3
        _feed.Announce(Key, late.Events);              // then 2 and 3, already sent
        await _log.AppendAsync(Key, AppendBatch.Of([Token(5)], _time.GetUtcNow(), _options.Retention.MaxEventsPerStream), default); // 5 is never announced
        var done = await _log.AppendAsync(Key, AppendBatch.Of([new NewEvent(EventTypes.Done, "{}")], _time.GetUtcNow(), _options.Retention.MaxEventsPerStream), default);
        _feed.Announce(Key, done.Events);
        _time.Advance(LocalFanout.GapHealDelay);       // the fan-out reads 5 from the log
        var end = await run.WaitAsync(TimeSpan.FromSeconds(30));
        await pipe.Writer.CompleteAsync();

        var text = await ReadAllAsync(pipe.Reader);
        Assert.Equal(SessionEnd.Terminal, end);
        Assert.Equal(["1", "2", "3", "4", "5", "6"], Ids(text));
    }

    [Fact]
    public async Task Run_SubscriberThatStopsReading_OverflowsAndEnds()
    {
        await _log.AppendAsync(Key, AppendBatch.Of([Token(0)], _time.GetUtcNow(), _options.Retention.MaxEventsPerStream), default);
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 64, resumeWriterThreshold: 32, useSynchronizationContext: false));
        using var subscription = _hub.CreateSubscription(Key, default);
        var session = new StreamSession(_hub, Key, pipe.Writer, 0);
        var run = session.RunAsync(subscription);
        await Eventually.TrueAsync(() => _hub.Fanout.TopicCount == 1);

        for (var i = 1; i <= 100 && !run.IsCompleted; i++)
        {
            await _hub.PublishAsync(Key, [Token(i)], default);
        }

        Assert.Equal(SessionEnd.Overflow, await run.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(SessionEnd.Overflow, subscription.EndReason);
        Assert.Equal(0, _hub.Fanout.TopicCount);
    }

    [Fact]
    public async Task Run_ReconnectAll_EndsWithReconnect()
    {
        await _log.AppendAsync(Key, AppendBatch.Of([Token(1)], _time.GetUtcNow(), _options.Retention.MaxEventsPerStream), default);
        var pipe = new Pipe();
        using var subscription = _hub.CreateSubscription(Key, default);
        var run = new StreamSession(_hub, Key, pipe.Writer, 0).RunAsync(subscription);
        await Eventually.TrueAsync(() => _hub.Fanout.TopicCount == 1);

        Assert.Equal(1, _hub.ReconnectAll(TimeSpan.FromSeconds(3)));

        Assert.Equal(SessionEnd.Reconnect, await run);
        Assert.Equal(TimeSpan.FromSeconds(3), subscription.ReconnectRetry);
    }

    [Fact]
    public void TryOpenConnection_AtTheLimit_Refuses()
    {
        _options.Limits.MaxSseConnections = 2;

        var first = _hub.TryOpenConnection();
        using var second = _hub.TryOpenConnection();

        Assert.NotNull(first);
        Assert.NotNull(second);
        Assert.Null(_hub.TryOpenConnection());
        Assert.Equal(2, _hub.OpenConnections);
        first.Dispose();
        first.Dispose(); // a lease is given back once
        Assert.Equal(1, _hub.OpenConnections);
        using var third = _hub.TryOpenConnection();
        Assert.NotNull(third);
    }

    private static List<string> Ids(string text) =>
        [.. text.Split('\n').Where(l => l.StartsWith("id: ", StringComparison.Ordinal)).Select(l => l[4..])];

    private static async Task<string> ReadAllAsync(PipeReader reader)
    {
        var builder = new StringBuilder();
        while (true)
        {
            var result = await reader.ReadAsync();
            foreach (var segment in result.Buffer)
            {
                builder.Append(Encoding.UTF8.GetString(segment.Span));
            }

            reader.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                return builder.ToString();
            }
        }
    }

}

public sealed class SignalTests
{
    [Fact]
    public async Task Set_BeforeWait_CompletesTheNextWaitOnce()
    {
        var signal = new Signal();
        signal.Set();
        signal.Set();

        await signal.WaitAsync();
        var second = signal.WaitAsync();

        Assert.False(second.IsCompleted);
        signal.Set();
        await second;
    }

    [Fact]
    public async Task Set_FromManyThreads_WakesTheWaiterEveryRound()
    {
        var signal = new Signal();
        for (var round = 0; round < 1000; round++)
        {
            var wait = signal.WaitAsync();
            Parallel.For(0, 4, _ => signal.Set());
            // A lost wake-up would leave this wait pending; sets that race after it leave one signal for the next round.
            await wait.AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        }
    }
}

public sealed class EventRingTests
{
    private static StoredEvent E(long id) => new(id, "token", "{}", DateTimeOffset.UnixEpoch);

    [Fact]
    public void TryGet_TellsFoundMissingAndOverwritten()
    {
        var ring = new EventRing(16);
        ring.Write([.. Enumerable.Range(1, 20).Select(i => E(i))], oldestUnsent: 20);

        Assert.Equal(20, ring.Head);
        Assert.Equal(RingRead.Found, ring.TryGet(20, out var e));
        Assert.Equal(20, e!.Id);
        Assert.Equal(RingRead.Overwritten, ring.TryGet(3, out _));
        Assert.Equal(RingRead.Missing, ring.TryGet(21, out _));
    }

    [Fact]
    public void Write_GrowsInsteadOfOverwritingWhatALiveReaderNeeds()
    {
        var ring = new EventRing(64);
        ring.Write([.. Enumerable.Range(1, 40).Select(i => E(i))], oldestUnsent: 0);

        Assert.Equal(RingRead.Found, ring.TryGet(1, out _));
        Assert.Equal(RingRead.Found, ring.TryGet(40, out _));
        Assert.True(ring.Tail <= 1, $"tail {ring.Tail}");
    }

    [Fact]
    public void Write_LetsTheOldestGoPastTheByteBudget_KeepingTheNewest()
    {
        var big = new string('x', 100_000);
        var ring = new EventRing(1024, maxBytes: 1_000_000);
        for (var i = 1; i <= 30; i++)
        {
            ring.Write([new StoredEvent(i, "token", big, DateTimeOffset.UnixEpoch)], oldestUnsent: 0);
        }

        Assert.InRange(ring.Bytes, 1, 1_000_000);
        Assert.Equal(RingRead.Found, ring.TryGet(30, out _));
        Assert.Equal(RingRead.Missing, ring.TryGet(1, out _));
        Assert.True(ring.Tail > 20, $"tail {ring.Tail}");
        Assert.Equal(RingRead.Found, ring.TryGet(ring.Tail, out _));

        // One event over the budget on its own still stays: it is the newest.
        var huge = new EventRing(16, maxBytes: 1000);
        huge.Write([new StoredEvent(1, "token", big, DateTimeOffset.UnixEpoch)], oldestUnsent: 0);
        Assert.Equal(RingRead.Found, huge.TryGet(1, out _));
    }
}
