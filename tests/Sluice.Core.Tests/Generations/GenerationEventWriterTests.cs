using Microsoft.Extensions.Time.Testing;
using Sluice.Configuration;
using Sluice.Fanout;
using Sluice.Generations;
using Sluice.Storage;
using Sluice.Streams;
using Sluice.Testing;

namespace Sluice.Core.Tests.Generations;

public sealed class GenerationEventWriterTests
{
    private static readonly StreamKey Key = new("acme", "generation/gen_w");
    private readonly FakeTimeProvider _time = new();
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(10);
    private readonly MemoryEventLog _log;
    private readonly FlakyLog _flaky;
    private readonly StreamHub _hub;

    public GenerationEventWriterTests()
    {
        var options = new StaticOptions(new SluiceOptions());
        _log = new MemoryEventLog();
        _flaky = new FlakyLog(_log);
        _hub = new StreamHub(_flaky, new InProcessLiveFeed(), options, _time, faults: new DownFaults());
    }

    [Fact]
    public async Task AnOutageWithinTheBudget_KeepsTheOutput_AndAppendsItWhenTheStoreIsBack()
    {
        var writer = new GenerationEventWriter(_hub, Key, Budget);
        _flaky.Down = true;
        for (var i = 0; i < 50; i++)
        {
            writer.Add(GenerationEvents.Token($"t{i}"));
        }

        var flush = writer.FlushAsync();
        await Eventually.TrueAsync(() => Advanced(() => _flaky.Refused >= 3));
        Assert.False(flush.IsCompleted);
        _flaky.Down = false;
        await Eventually.TrueAsync(() => Advanced(() => flush.IsCompleted));
        await flush;

        var stored = await _log.ReadAsync(Key, 0, 1000, CancellationToken.None);
        Assert.Equal(Enumerable.Range(1, 50).Select(i => (long)i), stored.Select(e => e.Id));
        Assert.Equal("""{"text":"t49"}""", stored[^1].Data);
        Assert.Equal(50, writer.LastId);
        Assert.False(writer.OutageOutlasted);
    }

    [Fact]
    public async Task AnAppendThatLandedBeforeItsReplyWasLost_IsNotAppendedTwice()
    {
        var writer = new GenerationEventWriter(_hub, Key, Budget);
        _flaky.LoseNextReply = true;
        writer.Add(GenerationEvents.Token("once"));
        writer.Add(GenerationEvents.Token("twice?"));

        var flush = writer.FlushAsync();
        await Eventually.TrueAsync(() => Advanced(() => flush.IsCompleted));
        await flush;
        writer.Add(GenerationEvents.Done("stop", 1, 2, 1, 1, "sim", "default"));
        await writer.FlushAsync();

        var stored = await _log.ReadAsync(Key, 0, 1000, CancellationToken.None);
        Assert.Equal(["once", "twice?", null], stored.Select(e => e.Type == "token" ? System.Text.Json.JsonDocument.Parse(e.Data).RootElement.GetProperty("text").GetString() : null));
        Assert.Equal([1L, 2, 3], stored.Select(e => e.Id));
    }

    [Fact]
    public async Task AnOutageLongerThanTheBudget_FailsTheWriter_SayingSo()
    {
        var writer = new GenerationEventWriter(_hub, Key, Budget);
        _flaky.Down = true;
        var started = _time.GetUtcNow();
        writer.Add(GenerationEvents.Token("lost"));

        var flush = writer.FlushAsync();
        await Eventually.TrueAsync(() => Advanced(() => flush.IsCompleted));

        await Assert.ThrowsAsync<InvalidOperationException>(() => flush);
        Assert.True(writer.OutageOutlasted);
        Assert.True(_time.GetUtcNow() - started >= Budget);
        Assert.Throws<InvalidOperationException>(() => writer.Add(GenerationEvents.Token("later")));
        Assert.Null(await _log.GetInfoAsync(Key, CancellationToken.None));
    }

    /// <summary>Moves the fake clock on (the writer's retry delays run on it) until <paramref name="done"/>.</summary>
    private bool Advanced(Func<bool> done)
    {
        if (done())
        {
            return true;
        }

        _time.Advance(TimeSpan.FromMilliseconds(100));
        return done();
    }

    private sealed class StoreDownException() : Exception("the store is down");

    private sealed class DownFaults : IStoreFaults
    {
        public bool IsUnavailable(Exception exception) => exception is StoreDownException;
    }

    /// <summary>A log that can be unreachable, or lose the reply to an append it did store.</summary>
    private sealed class FlakyLog(IEventLog inner) : IEventLog
    {
        private int _refused;

        public volatile bool Down;

        public volatile bool LoseNextReply;

        public int Refused => Volatile.Read(ref _refused);

        public async ValueTask<AppendResult> AppendAsync(StreamKey key, AppendBatch batch, CancellationToken cancellationToken)
        {
            Check();
            var result = await inner.AppendAsync(key, batch, cancellationToken);
            if (LoseNextReply)
            {
                LoseNextReply = false;
                throw new StoreDownException();
            }

            return result;
        }

        public ValueTask<IReadOnlyList<StoredEvent>> ReadAsync(StreamKey key, long afterId, int maxCount, CancellationToken cancellationToken)
        {
            Check();
            return inner.ReadAsync(key, afterId, maxCount, cancellationToken);
        }

        public ValueTask<StreamInfo?> GetInfoAsync(StreamKey key, CancellationToken cancellationToken)
        {
            Check();
            return inner.GetInfoAsync(key, cancellationToken);
        }

        public ValueTask<IReadOnlyList<StreamKey>> RemoveExpiredAsync(DateTimeOffset cutoff, CancellationToken cancellationToken) => inner.RemoveExpiredAsync(cutoff, cancellationToken);

        public ValueTask PingAsync(CancellationToken cancellationToken) => inner.PingAsync(cancellationToken);

        private void Check()
        {
            if (Down)
            {
                Interlocked.Increment(ref _refused);
                throw new StoreDownException();
            }
        }
    }

    [Fact]
    public async Task EveryEventLandsOnce_InOrder_EachWithItsOwnId()
    {
        var writer = new GenerationEventWriter(_hub, Key);
        for (var i = 0; i < 500; i++)
        {
            writer.Add(GenerationEvents.Token($"t{i}"));
        }

        writer.Add(GenerationEvents.Done("stop", 1, 500, 10, 20, "sim", "default"));
        await writer.FlushAsync();

        var stored = await _log.ReadAsync(Key, 0, 1000, CancellationToken.None);
        Assert.Equal(501, stored.Count);
        Assert.Equal(Enumerable.Range(1, 501).Select(i => (long)i), stored.Select(e => e.Id));
        Assert.Equal("{\"text\":\"t499\"}", stored[499].Data);
        Assert.Equal((501, 501L, false), (writer.Written, writer.LastId, writer.StreamClosed));
    }

    [Fact]
    public async Task AClosedStream_FailsTheFlush_AndSaysItWasClosed()
    {
        await _hub.PublishAsync(Key, [GenerationEvents.Error("worker_lost", "gone", true)], CancellationToken.None);
        var writer = new GenerationEventWriter(_hub, Key);

        writer.Add(GenerationEvents.Token("late"));

        await Assert.ThrowsAsync<InvalidOperationException>(writer.FlushAsync);
        Assert.True(writer.StreamClosed);
        Assert.Throws<InvalidOperationException>(() => writer.Add(GenerationEvents.Token("later")));
        Assert.Single(await _log.ReadAsync(Key, 0, 10, CancellationToken.None));
    }
}
