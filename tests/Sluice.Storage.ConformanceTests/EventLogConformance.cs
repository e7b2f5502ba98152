using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Sluice.Configuration;
using Sluice.Streams;
using Sluice.Testing;

namespace Sluice.Storage.ConformanceTests;

/// <summary>One suite for every <see cref="IEventLog"/> backend: each must pass it unchanged.</summary>
public abstract class EventLogConformance : IAsyncLifetime
{
    private protected FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    private protected SluiceOptions Options { get; } = new() { Retention = { MaxEventsPerStream = 1000 } };

    private protected IEventLog Log { get; private set; } = null!;

    private protected abstract Task<IEventLog> CreateAsync(IOptionsMonitor<SluiceOptions> options, TimeProvider time);

    /// <summary>A new instance over the same storage, as after a restart; null for backends that keep nothing.</summary>
    private protected abstract Task<IEventLog?> ReopenAsync();

    public virtual async Task InitializeAsync() => Log = await CreateAsync(new StaticOptions(Options), Time);

    public virtual Task DisposeAsync() => Task.CompletedTask;

    private static readonly StreamKey A = new("acme", "s1");

    /// <summary>An append as the hub makes it: the policy (close, keep, clock) decided by <see cref="AppendBatch.Of"/>.</summary>
    private protected ValueTask<AppendResult> AppendAsync(IEventLog log, StreamKey key, IReadOnlyList<NewEvent> events) =>
        log.AppendAsync(key, AppendBatch.Of(events, Time.GetUtcNow(), Options.Retention.MaxEventsPerStream), default);

    private static NewEvent Token(int n) => new(EventTypes.Token, $"{{\"n\":{n}}}");

    [Fact]
    public async Task Append_NewStream_AssignsDenseIdsFromOne()
    {
        var first = await AppendAsync(Log, A, [Token(1)]);
        var second = await AppendAsync(Log, A, [Token(2), Token(3)]);

        Assert.Equal(AppendStatus.Appended, first.Status);
        Assert.Equal([1L], first.Events.Select(e => e.Id));
        Assert.Equal([2L, 3L], second.Events.Select(e => e.Id));
        Assert.Equal("{\"n\":3}", second.Events[1].Data);
    }

    [Fact]
    public async Task Read_AfterId_ReturnsLaterEventsInOrderUpToMax()
    {
        await AppendAsync(Log, A, [.. Enumerable.Range(1, 10).Select(Token)]);

        var page = await Log.ReadAsync(A, 3, 4, default);
        var tail = await Log.ReadAsync(A, 8, 100, default);
        var none = await Log.ReadAsync(A, 10, 100, default);
        var beyond = await Log.ReadAsync(A, 50, 100, default);

        Assert.Equal([4L, 5L, 6L, 7L], page.Select(e => e.Id));
        Assert.Equal(["{\"n\":4}", "{\"n\":5}", "{\"n\":6}", "{\"n\":7}"], page.Select(e => e.Data));
        Assert.Equal([9L, 10L], tail.Select(e => e.Id));
        Assert.Empty(none);
        Assert.Empty(beyond);
    }

    [Fact]
    public async Task Info_MissingStream_IsNull_ExistingReportsBoundsAndTimes()
    {
        Assert.Null(await Log.GetInfoAsync(A, default));
        await AppendAsync(Log, A, [Token(1), Token(2)]);
        Time.Advance(TimeSpan.FromSeconds(5));
        await AppendAsync(Log, A, [Token(3)]);

        var info = await Log.GetInfoAsync(A, default);

        Assert.NotNull(info);
        Assert.Equal((1L, 3L, 3L, false), (info.FirstId, info.LastId, info.Events, info.Closed));
        Assert.Equal(Time.GetUtcNow().AddSeconds(-5), info.CreatedAt);
        Assert.Equal(Time.GetUtcNow(), info.LastEventAt);
        Assert.Null(info.ClosedAt);
    }

    [Theory]
    [InlineData(EventTypes.Done)]
    [InlineData(EventTypes.Error)]
    [InlineData(EventTypes.SafeResponse)]
    public async Task Append_AfterTerminal_IsRefusedAndStoresNothing(string terminal)
    {
        await AppendAsync(Log, A, [Token(1), new NewEvent(terminal, "{}")]);

        var refused = await AppendAsync(Log, A, [Token(3)]);
        var info = await Log.GetInfoAsync(A, default);

        Assert.Equal(AppendStatus.StreamClosed, refused.Status);
        Assert.Empty(refused.Events);
        Assert.True(info!.Closed);
        Assert.Equal(2, info.LastId);
        Assert.Equal(Time.GetUtcNow(), info.ClosedAt);
    }

    [Fact]
    public async Task Streams_OfDifferentTenants_AreIndependent()
    {
        var other = A with { Tenant = "globex" };
        await AppendAsync(Log, A, [Token(1), Token(2)]);
        await AppendAsync(Log, other, [Token(9)]);

        Assert.Equal([1L, 2L], (await Log.ReadAsync(A, 0, 10, default)).Select(e => e.Id));
        Assert.Equal(["{\"n\":9}"], (await Log.ReadAsync(other, 0, 10, default)).Select(e => e.Data));
        Assert.Equal(1, (await Log.GetInfoAsync(other, default))!.LastId);
    }

    [Fact]
    public async Task Retention_MaxEventsPerStream_DropsTheOldestFirst()
    {
        Options.Retention.MaxEventsPerStream = 5;
        for (var i = 1; i <= 12; i++)
        {
            await AppendAsync(Log, A, [Token(i)]);
        }

        var info = await Log.GetInfoAsync(A, default);
        var all = await Log.ReadAsync(A, 0, 100, default);

        Assert.Equal((8L, 12L, 5L), (info!.FirstId, info.LastId, info.Events));
        Assert.Equal([8L, 9L, 10L, 11L, 12L], all.Select(e => e.Id));
    }

    [Fact]
    public async Task Retention_ByAge_RemovesOnlyStreamsIdleLongerThanTheCutoff()
    {
        var old = new StreamKey("acme", "old");
        await AppendAsync(Log, old, [Token(1)]);
        Time.Advance(TimeSpan.FromHours(2));
        await AppendAsync(Log, A, [Token(1)]);

        var removed = await Log.RemoveExpiredAsync(Time.GetUtcNow() - TimeSpan.FromHours(1), default);

        Assert.Equal([old], removed);
        Assert.Null(await Log.GetInfoAsync(old, default));
        Assert.Empty(await Log.ReadAsync(old, 0, 10, default));
        Assert.NotNull(await Log.GetInfoAsync(A, default));
        // A removed stream starts again from id 1.
        Assert.Equal([1L], (await AppendAsync(Log, old, [Token(2)])).Events.Select(e => e.Id));
    }

    [Fact]
    public async Task Append_ConcurrentWriters_GetUniqueDenseIds()
    {
        var tasks = Enumerable.Range(0, 16).Select(w => Task.Run(async () =>
        {
            var ids = new List<long>();
            for (var i = 0; i < 50; i++)
            {
                ids.AddRange((await AppendAsync(Log, A, [Token(w * 1000 + i), Token(w * 1000 + i)])).Events.Select(e => e.Id));
            }

            return ids;
        }));

        var all = (await Task.WhenAll(tasks)).SelectMany(x => x).Order().ToList();

        Assert.Equal(Enumerable.Range(1, 1600).Select(i => (long)i), all);
        Assert.Equal(1600, (await Log.GetInfoAsync(A, default))!.LastId);
    }

    [Fact]
    public async Task AppendsWithinOneSecond_InfoHasTheLastEventsTime_AndRetentionGoesByIt()
    {
        await AppendAsync(Log, A, [Token(1)]);
        var first = Time.GetUtcNow();
        Time.Advance(TimeSpan.FromMilliseconds(400));
        await AppendAsync(Log, A, [Token(2), Token(3)]);
        var last = Time.GetUtcNow();

        var info = await Log.GetInfoAsync(A, default);
        var keptPastFirst = await Log.RemoveExpiredAsync(first.AddMilliseconds(200), default);
        var removedPastLast = await Log.RemoveExpiredAsync(last.AddMilliseconds(1), default);

        Assert.Equal((1L, 3L, 3L, last), (info!.FirstId, info.LastId, info.Events, info.LastEventAt));
        Assert.Empty(keptPastFirst);
        Assert.Equal([A], removedPastLast);
    }

    [Fact]
    public async Task Reopen_KeepsEventsAndContinuesIds()
    {
        await AppendAsync(Log, A, [Token(1), Token(2)]);
        await AppendAsync(Log, new StreamKey("acme", "closed"), [new NewEvent(EventTypes.Done, "{}")]);

        var reopened = await ReopenAsync();
        if (reopened is null)
        {
            return; // the memory backend keeps nothing by design
        }

        Log = reopened;
        var next = await AppendAsync(Log, A, [Token(3)]);
        var closed = await AppendAsync(Log, new StreamKey("acme", "closed"), [Token(1)]);

        Assert.Equal([3L], next.Events.Select(e => e.Id));
        Assert.Equal(["{\"n\":1}", "{\"n\":2}", "{\"n\":3}"], (await Log.ReadAsync(A, 0, 10, default)).Select(e => e.Data));
        Assert.Equal(AppendStatus.StreamClosed, closed.Status);
    }

    [Fact]
    public async Task Data_WithUnicodeAndEscapes_RoundTripsExactly()
    {
        const string data = "{\"text\":\"h\\u00e9llo \\n \u4e16\u754c \ud83d\ude00 \\\"q\\\"\"}";
        await AppendAsync(Log, A, [new NewEvent("x-custom.type_1", data)]);

        var e = (await Log.ReadAsync(A, 0, 1, default)).Single();

        Assert.Equal(("x-custom.type_1", data), (e.Type, e.Data));
    }

    [Fact]
    public async Task Ping_Succeeds() => await Log.PingAsync(default);
}
