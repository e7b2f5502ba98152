using System.Text.Json;
using Sluice.Testing;

namespace Sluice.Server.FunctionalTests;

/// <summary>
/// The rest of a provider's Polly pipeline: retries on the same provider only while nothing was exposed, and the
/// total timeout, which falls back before the first token and ends the stream with a retryable error after it.
/// </summary>
public sealed class ProviderPipelineTests : IAsyncLifetime
{
    private SluiceTestServer _server = null!;
    private HttpClient _client = null!;

    public async Task InitializeAsync()
    {
        _server = await SluiceTestServer.StartAsync("memory", new Dictionary<string, string>
        {
            // Every second run fails; one retry turns each failure into a success.
            ["Sluice:Providers:shaky:Type"] = "simulated",
            ["Sluice:Providers:shaky:Simulate:FailRate"] = "0.5",
            ["Sluice:Providers:shaky:Retry:MaxRetries"] = "1",
            ["Sluice:Providers:shaky:Retry:Delay"] = "00:00:00",
            ["Sluice:Providers:shaky:CircuitBreaker:FailureRatio"] = "1",
            ["Sluice:Providers:slow:Type"] = "simulated",
            // A second: long enough for the first tokens even on a loaded machine, far short of the 5 s run.
            ["Sluice:Providers:slow:TotalTimeout"] = "00:00:01",
            ["Sluice:Providers:stalled:Type"] = "simulated",
            ["Sluice:Providers:stalled:TotalTimeout"] = "00:00:00.300",
            ["Sluice:Providers:stalled:Simulate:TtftMs"] = "30000",
            ["Sluice:Models:stalled-chat:Chain:0"] = "stalled/default",
            ["Sluice:Models:stalled-chat:Chain:1"] = "simulated/default",
            ["Sluice:Models:slow-chat:Chain:0"] = "slow/default",
            ["Sluice:Models:slow-chat:Chain:1"] = "simulated/default",
        });
        _client = _server.CreateClient();
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task Retry_BeforeTheFirstToken_TurnsAFailedAttemptIntoOneCleanStream()
    {
        for (var i = 0; i < 6; i++)
        {
            var id = (await _client.CreateGenerationAsync("""{"model":"shaky/default","messages":[{"role":"user","content":"retry me"}],"simulate":{"output_tokens":24,"ttft_ms":0,"tokens_per_second":0}}""")).GetProperty("id").GetString()!;
            var items = await _client.ReadEventsAsync(id);
            Assert.Equal("done", items[^1].EventType);
            Assert.Equal(24, items.Count(e => e.EventType == "token"));
            Assert.Equal("shaky", JsonDocument.Parse(items[^1].Data).RootElement.GetProperty("provider").GetString());
        }

        // Runs 2, 4, 6, 8 and 10 failed and were retried: 11 calls for 6 generations.
        var health = await _client.ProviderHealthAsync("shaky");
        Assert.Equal(11, health.GetProperty("attempts5m").GetInt32());
        Assert.Equal(5, health.GetProperty("failures5m").GetInt32());
    }

    [Fact]
    public async Task Retry_NeverAfterExposure_TheStreamEndsWithARetryableError()
    {
        const string MidStream = """{"model":"shaky/default","messages":[{"role":"user","content":"fail late"}],"simulate":{"fail":"mid_stream","fail_after_tokens":3}}""";
        var outcomes = new List<List<System.Net.ServerSentEvents.SseItem<string>>>();
        for (var i = 0; i < 2; i++)
        {
            var id = (await _client.CreateGenerationAsync(MidStream)).GetProperty("id").GetString()!;
            outcomes.Add(await _client.ReadEventsAsync(id));
        }

        // One of two consecutive runs is a failing one: it sent 3 tokens, then ended, never retried.
        var failed = Assert.Single(outcomes, items => items[^1].EventType == "error");
        Assert.Equal(3, failed.Count(e => e.EventType == "token"));
        var error = JsonDocument.Parse(failed[^1].Data).RootElement;
        Assert.True(error.GetProperty("retryable").GetBoolean());
        var health = await _client.ProviderHealthAsync("shaky");
        Assert.Equal(2, health.GetProperty("attempts5m").GetInt32());
        Assert.Equal(1, health.GetProperty("failures5m").GetInt32());
    }

    [Fact]
    public async Task TotalTimeout_BeforeTheFirstToken_FallsBack()
    {
        var id = (await _client.CreateGenerationAsync("""{"model":"stalled-chat","messages":[{"role":"user","content":"slow start"}]}""")).GetProperty("id").GetString()!;
        var items = await _client.ReadEventsAsync(id);
        Assert.Equal("done", items[^1].EventType);
        Assert.Equal("simulated", JsonDocument.Parse(items[^1].Data).RootElement.GetProperty("provider").GetString());
        var traces = await _client.GetJsonAsync("/v1/ops/traces?keyword=provider_timeout");
        Assert.Contains(traces.GetProperty("data").EnumerateArray(), t => t.GetProperty("generation_id").GetString() == id);
    }

    [Fact]
    public async Task TotalTimeout_AfterTheFirstToken_EndsTheStreamWithARetryableTimeout()
    {
        // 100 tokens at 20/s would take 5 s; the 1 s total cuts it after the first few, with no fallback.
        var id = (await _client.CreateGenerationAsync("""{"model":"slow-chat","messages":[{"role":"user","content":"slow run"}],"simulate":{"output_tokens":100,"tokens_per_second":20}}""")).GetProperty("id").GetString()!;
        var items = await _client.ReadEventsAsync(id);
        Assert.Equal("error", items[^1].EventType);
        var error = JsonDocument.Parse(items[^1].Data).RootElement;
        Assert.Equal("provider_timeout", error.GetProperty("code").GetString());
        Assert.True(error.GetProperty("retryable").GetBoolean());
        var tokens = items.Count(e => e.EventType == "token");
        Assert.InRange(tokens, 1, 99);
        var record = await _client.WaitFinishedAsync(id);
        Assert.Equal("slow", record.GetProperty("provider").GetString());
    }
}
