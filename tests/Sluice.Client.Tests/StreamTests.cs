using System.Net;
using Sluice.Testing;

namespace Sluice.Client.Tests;

/// <summary>The resume rules of docs/clients.md on a fake clock: no sleeps, no real waits.</summary>
public sealed class StreamTests
{
    private readonly TrackingTimeProvider _time = new(new DateTimeOffset(2026, 12, 4, 12, 0, 0, TimeSpan.Zero));
    private readonly ScriptedHandler _handler;
    private readonly SluiceClient _client;
    private readonly System.Collections.Concurrent.ConcurrentQueue<SluiceEvent> _seen = new();

    public StreamTests()
    {
        _handler = new ScriptedHandler(_time);
        _client = new SluiceClient(new HttpClient(_handler) { BaseAddress = new Uri("http://sluice.test") }, new SluiceClientOptions { MaxRetries = 4 }, _time, () => 0.5);
    }

    [Fact]
    public void Backoff_Is1_2_5_15Seconds_WithJitterWithinTenPercent_AndNeverBelowRetryAfter()
    {
        var options = new SluiceClientOptions();
        Assert.Equal([1000, 2000, 5000, 15000, 15000], new[] { 1, 2, 3, 4, 9 }.Select(n => SluiceClient.BackoffDelay(options, n, 0.5).TotalMilliseconds));
        Assert.Equal(900, SluiceClient.BackoffDelay(options, 1, 0).TotalMilliseconds);
        Assert.Equal(1100, SluiceClient.BackoffDelay(options, 1, 1).TotalMilliseconds);
        Assert.Equal(16500, SluiceClient.BackoffDelay(options, 4, 1).TotalMilliseconds);
        Assert.Equal(7000, SluiceClient.BackoffDelay(options, 1, 0.5, TimeSpan.FromSeconds(7)).TotalMilliseconds);
        Assert.Throws<ArgumentException>(() => new SluiceClientOptions { Backoff = [] }.Validate());
    }

    [Fact]
    public async Task CutMidStream_ResumesAfterTheLastId_ReplayOverlapDropped_EveryEventOnceInOrder()
    {
        var first = new SseBody();
        var second = new SseBody();
        _handler.Stream(first).NetworkError().Stream(second);
        var reading = ReadAllAsync("/v1/generations/gen_1/events");
        await first.WriteAsync("retry: 1000\n\n");
        await first.TokensAsync(1, 2, 3);
        await Eventually.TrueAsync(() => _seen.Count == 3);
        first.Cut();
        await Eventually.TrueAsync(() => _handler.Count == 2);
        await AdvanceUntilAsync(() => _handler.Count == 3);
        await second.TokensAsync(2, 3, 4);
        await second.EventAsync(5, "done", """{"finish_reason":"stop","usage":{"output_tokens":4}}""");
        var events = await reading;

        Assert.Equal([1, 2, 3, 4, 5], events.Select(e => e.Id!.Value));
        Assert.Equal(["t1", "t2", "t3", "t4"], events.OfType<TokenEvent>().Select(t => t.Text));
        var done = Assert.IsType<DoneEvent>(events[^1]);
        Assert.Equal(("stop", 4L), (done.FinishReason, done.OutputTokens!.Value));
        Assert.Equal([null, "3", "3"], _handler.Requests.Select(r => r.LastEventId));
    }

    [Fact]
    public async Task FailedConnects_WaitTheBackoff_ThenTheRetriesAreSpent_WithTheLastCause()
    {
        for (var i = 0; i < 5; i++)
        {
            _handler.NetworkError();
        }

        var reading = ReadAllAsync("/v1/streams/s/events");
        await AdvanceUntilAsync(() => reading.IsCompleted);
        var error = await Assert.ThrowsAsync<SluiceStreamException>(() => reading);

        // Each retry waits at least its backoff step (the exact steps are the test above); the fake clock only ever
        // moves to a pending timer, so a retry that came early would show here.
        var at = _handler.Requests.Select(r => r.At).ToArray();
        var gaps = at.Zip(at.Skip(1), (a, b) => (b - a).TotalSeconds).ToArray();
        Assert.Equal(4, gaps.Length);
        Assert.All(gaps.Zip(new double[] { 1, 2, 5, 15 }), g => Assert.InRange(g.First, g.Second, g.Second + 10));
        Assert.IsType<HttpRequestException>(error.InnerException);
        Assert.Contains("4 retries", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RetryAfter_IsHonoured_AndA404IsNotRetried()
    {
        _handler.Status(HttpStatusCode.ServiceUnavailable, TimeSpan.FromSeconds(7)).Status(HttpStatusCode.NotFound, body: """{"title":"Not found.","code":"not_found"}""");
        var reading = ReadAllAsync("/v1/streams/s/events");
        await AdvanceUntilAsync(() => reading.IsCompleted);
        var error = await Assert.ThrowsAsync<SluiceStreamException>(() => reading);

        var at = _handler.Requests.Select(r => r.At).ToArray();
        Assert.Equal(2, at.Length);
        Assert.InRange((at[1] - at[0]).TotalSeconds, 7, 17);
        Assert.Equal(404, error.StatusCode);
        Assert.Contains("not_found", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NoResponseHeadersWithin10Seconds_IsAFailedAttempt()
    {
        var body = new SseBody();
        _handler.Hang().Stream(body);
        var reading = ReadAllAsync("/v1/streams/s/events");
        await AdvanceUntilAsync(() => _handler.Count == 2);
        await body.EventAsync(1, "done", """{"finish_reason":"stop"}""");
        await reading;

        var at = _handler.Requests.Select(r => r.At).ToArray();
        Assert.InRange((at[1] - at[0]).TotalSeconds, 11, 21);
    }

    [Fact]
    public async Task SilentFor45Seconds_TheWatchdogReconnects_HeartbeatsKeepItAlive()
    {
        var first = new SseBody();
        var second = new SseBody();
        _handler.Stream(first).Stream(second);
        var reading = ReadAllAsync("/v1/streams/s/events");
        await first.TokensAsync(1);
        await Eventually.TrueAsync(() => _handler.Count == 1);
        for (var i = 0; i < 4; i++)
        {
            _time.Advance(TimeSpan.FromSeconds(30));
            await first.WriteAsync("event: heartbeat\ndata: {}\n\n");
            await Task.Yield();
        }

        Assert.Equal(1, _handler.Count);
        await AdvanceUntilAsync(() => _handler.Count == 2);
        await second.EventAsync(2, "done", """{"finish_reason":"stop"}""");
        var events = await reading;

        Assert.Equal([1, 2], events.Select(e => e.Id!.Value));
        Assert.Equal("1", _handler.Requests.Last().LastEventId);
        Assert.Equal(1, _client.Reconnects);
        var stats = _client.GetConnectionStats();
        Assert.Equal((1L, 1L, 1, SluiceConnectionQuality.Good, false), (stats.Reconnects, stats.MissedHeartbeats, stats.RecentReconnects, stats.Quality, stats.IsStreaming));
        _time.Advance(TimeSpan.FromMinutes(5.1));
        Assert.Equal(SluiceConnectionQuality.Excellent, _client.GetConnectionStats().Quality);
    }

    [Fact]
    public async Task Quality_IsPoorAfter30SilentSeconds_CriticalAfter60_ExcellentWhenAHeartbeatComes()
    {
        var client = new SluiceClient(new HttpClient(_handler) { BaseAddress = new Uri("http://sluice.test") }, new SluiceClientOptions { HeartbeatTimeout = TimeSpan.FromMinutes(10) }, _time, () => 0.5);
        var body = new SseBody();
        _handler.Stream(body);
        var reading = Task.Run(async () => await client.StreamAsync("/v1/streams/s/events").ToListAsync());
        await body.TokensAsync(1);
        await Eventually.TrueAsync(() => client.GetConnectionStats().IsStreaming);
        Assert.Equal(SluiceConnectionQuality.Excellent, client.GetConnectionStats().Quality);

        _time.Advance(TimeSpan.FromSeconds(31));
        Assert.Equal((SluiceConnectionQuality.Poor, TimeSpan.FromSeconds(31)), (client.GetConnectionStats().Quality, client.GetConnectionStats().LastEventAge!.Value));
        _time.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal(SluiceConnectionQuality.Critical, client.GetConnectionStats().Quality);
        await body.WriteAsync("event: heartbeat\ndata: {}\n\n");
        await Eventually.TrueAsync(() => client.GetConnectionStats().Quality == SluiceConnectionQuality.Excellent);

        await body.EventAsync(2, "done", """{"finish_reason":"stop"}""");
        Assert.Equal(2, (await reading).Count);
    }

    [Fact]
    public async Task NoContent_EndsTheEnumeration()
    {
        _handler.Status(HttpStatusCode.NoContent);
        Assert.Empty(await ReadAllAsync("/v1/streams/s/events", 9));
        Assert.Equal("9", _handler.Requests.Single().LastEventId);
    }

    [Fact]
    public async Task Unauthorized_AsksTheCallbackOnceForAFreshEventsUrl_ThenGivesUp()
    {
        _handler.Status(HttpStatusCode.Unauthorized).Status(HttpStatusCode.Unauthorized);
        var asked = 0;
        var error = await Assert.ThrowsAsync<SluiceStreamException>(() => ReadAllAsync("/v1/streams/s/events?access_token=old", refresh: _ => { asked++; return ValueTask.FromResult<string?>("/v1/streams/s/events?access_token=fresh"); }));

        Assert.Equal(1, asked);
        Assert.Equal(401, error.StatusCode);
        Assert.Equal(["/v1/streams/s/events?access_token=old", "/v1/streams/s/events?access_token=fresh"], _handler.Requests.Select(r => r.PathAndQuery));
    }

    [Fact]
    public async Task Forbidden_IsNotRetried_NorRefreshed()
    {
        _handler.Status(HttpStatusCode.Forbidden, body: """{"title":"Forbidden.","code":"forbidden"}""");
        var asked = 0;
        var error = await Assert.ThrowsAsync<SluiceStreamException>(() => ReadAllAsync("/v1/streams/s/events", refresh: _ => { asked++; return ValueTask.FromResult<string?>("/x"); }));

        Assert.Equal((0, 403, 1), (asked, error.StatusCode.GetValueOrDefault(), _handler.Count));
        Assert.Contains("forbidden", error.Message, StringComparison.Ordinal);
        Assert.True(_client.GetConnectionStats() is { IsStreaming: false, Reconnects: 0 });
    }

    [Fact]
    public async Task CredentialExpired_Refreshes_AndResumes_SignalsAreTyped()
    {
        var first = new SseBody();
        var second = new SseBody();
        _handler.Stream(first).Stream(second);
        var reading = ReadAllAsync("/v1/streams/s/events", refresh: _ => ValueTask.FromResult<string?>("/v1/streams/s/events?access_token=fresh"));
        await first.NoticeAsync("""{"code":"history_truncated","first_available_id":3,"retryable":false}""");
        await first.TokensAsync(3);
        await first.NoticeAsync("""{"code":"credential_expired"}""");
        await Eventually.TrueAsync(() => _handler.Count == 2);
        await second.TokensAsync(3, 4);
        await second.EventAsync(5, "error", """{"code":"worker_lost","message":"gone","retryable":true}""");
        var events = await reading;

        Assert.Equal(3, Assert.IsType<HistoryTruncatedEvent>(events[0]).FirstAvailableId);
        Assert.Equal([3L, 4L], events.OfType<TokenEvent>().Select(t => t.Id!.Value));
        var end = Assert.IsType<ErrorEvent>(events[^1]);
        Assert.Equal(("worker_lost", true, true), (end.Code, end.Retryable, end.IsTerminal));
        Assert.Equal(["/v1/streams/s/events", "/v1/streams/s/events?access_token=fresh"], _handler.Requests.Select(r => r.PathAndQuery));
        Assert.Equal("3", _handler.Requests.Last().LastEventId);
    }

    private Task<List<SluiceEvent>> ReadAllAsync(string path, long last = 0, Func<CancellationToken, ValueTask<string?>>? refresh = null) => Task.Run(async () =>
    {
        var events = new List<SluiceEvent>();
        await foreach (var e in _client.StreamAsync(path, last, refresh))
        {
            events.Add(e);
            _seen.Enqueue(e);
        }

        return events;
    });

    /// <summary>
    /// Moves the fake clock to the client's next wake-up, again and again, until the condition holds (bounded: a
    /// hundred wake-ups). The client is waiting when one of its timers is pending; the wait for that is a poll, not a sleep.
    /// </summary>
    private async Task AdvanceUntilAsync(Func<bool> condition)
    {
        for (var i = 0; i < 100 && !condition(); i++)
        {
            await Eventually.TrueAsync(() => condition() || _time.NextDue is not null);
            if (!condition() && _time.NextDue is { } due)
            {
                _time.Advance(due > _time.GetUtcNow() ? due - _time.GetUtcNow() : TimeSpan.Zero);
            }
        }

        await Eventually.TrueAsync(condition);
    }
}
