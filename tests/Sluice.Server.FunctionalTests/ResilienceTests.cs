using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Time.Testing;
using Sluice.Testing;

namespace Sluice.Server.FunctionalTests;

/// <summary>
/// Issue 5's provider resilience on a fake clock: the Polly circuit breaker, fallback before the first token,
/// provider health and the kill-switch with its expiry. The upstream is the OpenAI-wire fake, switched into
/// an outage and back.
/// </summary>
[Collection(nameof(ObservabilityTests))] // asserts exported metrics: the meter listener is process-wide
public sealed class ResilienceTests : IAsyncLifetime
{
    private const string ViaAlias = """{"model":"chat","messages":[{"role":"user","content":"hi"}]}""";
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);
    private FakeUpstream _upstream = null!;
    private SluiceTestServer _server = null!;
    private HttpClient _client = null!;

    public async Task InitializeAsync()
    {
        _upstream = await FakeUpstream.StartAsync();
        _server = await SluiceTestServer.StartAsync("memory", new Dictionary<string, string>
        {
            ["Sluice:Providers:openai:Type"] = "openai",
            ["Sluice:Providers:openai:BaseUrl"] = new Uri(_upstream.BaseAddress, "/v1").ToString(),
            ["Sluice:Providers:openai:ApiKey"] = "sk-upstream",
            ["Sluice:Providers:openai:CircuitBreaker:MinimumThroughput"] = "3",
            ["Sluice:Providers:openai:CircuitBreaker:FailureRatio"] = "0.5",
            ["Sluice:Providers:openai:CircuitBreaker:SamplingDuration"] = "00:10:00",
            ["Sluice:Providers:openai:CircuitBreaker:BreakDuration"] = "00:00:30",
            ["Sluice:Models:chat:Chain:0"] = "openai/gpt-text",
            ["Sluice:Models:chat:Chain:1"] = "simulated/default",
            // The fallback runs without delays: on a fake clock nothing else would move them.
            ["Sluice:Providers:simulated:Simulate:TtftMs"] = "0",
            ["Sluice:Providers:simulated:Simulate:TokensPerSecond"] = "0",
        }, configure: b => b.Services.Replace(ServiceDescriptor.Singleton<TimeProvider>(_time)));
        _client = _server.CreateClient();
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _server.DisposeAsync();
        foreach (var line in _server.Logs.Lines.Where(l => l.StartsWith("Error", StringComparison.Ordinal) || l.StartsWith("Critical", StringComparison.Ordinal)))
        {
            await Console.Error.WriteLineAsync("SERVER " + line);
        }

        await _upstream.DisposeAsync();
    }

    [Fact]
    public async Task FailingProvider_OpensItsCircuit_TrafficMovesToTheFallback_ThenHalfOpensAndCloses()
    {
        _upstream.Failing = true;
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal("simulated", await ServedByAsync(ViaAlias));
        }

        var open = await _client.ProviderHealthAsync("openai", verbose: true);
        Assert.Equal("open", open.GetProperty("circuit_state").GetString());
        Assert.Equal("down", open.GetProperty("state").GetString());
        Assert.Equal(0.0, open.GetProperty("success_rate").GetDouble());
        var metrics = await _client.GetStringAsync("/metrics");
        Assert.Equal("2", Gauge(metrics, "sluice_provider_circuit_state", "openai"));
        Assert.Equal("0", Gauge(metrics, "sluice_provider_up", "openai"));
        Assert.Equal("1", Gauge(metrics, "sluice_provider_up", "simulated"));
        // Polly's own telemetry names the provider and the transition.
        Assert.Contains(metrics.Split('\n'), l => l.StartsWith("resilience_polly_strategy_events_total{", StringComparison.Ordinal)
            && l.Contains("event_name=\"OnCircuitOpened\"", StringComparison.Ordinal) && l.Contains("pipeline_instance=\"openai\"", StringComparison.Ordinal));

        // Open: the provider is not even called, the fallback serves at once.
        var calls = _upstream.Requests.Count;
        Assert.Equal("simulated", await ServedByAsync(ViaAlias));
        Assert.Equal(calls, _upstream.Requests.Count);

        // The provider recovers; after the break the circuit lets one trial through, which closes it.
        _upstream.Failing = false;
        _time.Advance(TimeSpan.FromSeconds(31));
        Assert.Equal("openai", await ServedByAsync(ViaAlias));
        Assert.Equal("closed", (await _client.ProviderHealthAsync("openai", verbose: true)).GetProperty("circuit_state").GetString());
        Assert.Equal("openai", await ServedByAsync(ViaAlias));
        Assert.Equal("1", Gauge(await _client.GetStringAsync("/metrics"), "sluice_provider_up", "openai"));
    }

    [Fact]
    public async Task KillSwitch_MovesTrafficToTheFallback_FailsFastWithoutOne_IsAudited_AndExpires()
    {
        using var enable = await KillAsync("openai", """{"action":"enable","reason":"upstream returns garbage","effective_seconds":60}""", "kill-1");
        await Api.EnsureAsync(enable, 200);
        Assert.Equal("killed", (await enable.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("state").GetString());

        Assert.Equal("simulated", await ServedByAsync(ViaAlias));
        var id = (await _client.CreateGenerationAsync("""{"model":"openai/gpt-text","messages":[{"role":"user","content":"hi"}]}""")).GetProperty("id").GetString()!;
        var items = await _client.ReadEventsAsync(id);
        var error = JsonDocument.Parse(Assert.Single(items).Data).RootElement;
        Assert.Equal("provider_killed", error.GetProperty("code").GetString());
        Assert.Empty(_upstream.Requests);

        var health = await _client.ProviderHealthAsync("openai", verbose: true);
        Assert.Equal("killed", health.GetProperty("state").GetString());
        Assert.Equal("upstream returns garbage", health.GetProperty("kill_switch").GetProperty("reason").GetString());
        var audit = await _client.GetJsonAsync("/v1/ops/audit");
        var entry = Assert.Single(audit.GetProperty("data").EnumerateArray(), e => e.GetProperty("action").GetString() == "kill_switch_enabled");
        Assert.Equal("provider:openai", entry.GetProperty("target").GetString());
        Assert.Equal("killed", entry.GetProperty("after").GetProperty("state").GetString());

        // The same Idempotency-Key replays the first answer and changes nothing; with another body it is refused.
        using var again = await KillAsync("openai", """{"action":"enable","reason":"upstream returns garbage","effective_seconds":60}""", "kill-1");
        Assert.Equal(await enable.Content.ReadAsStringAsync(), await again.Content.ReadAsStringAsync());
        Assert.Equal("true", Assert.Single(again.Headers.GetValues("Idempotent-Replayed")));
        using var reused = await KillAsync("openai", """{"action":"enable","reason":"other","effective_seconds":5}""", "kill-1");
        Assert.Equal("idempotency_key_reused", (await reused.ProblemAsync(422)).GetProperty("code").GetString());
        Assert.Single((await _client.GetJsonAsync("/v1/ops/audit")).GetProperty("data").EnumerateArray(), e => e.GetProperty("action").GetString() == "kill_switch_enabled");

        // It expires by itself.
        _time.Advance(TimeSpan.FromSeconds(61));
        // The trace is written off the expiry timer's thread, so it lands a moment after the advance.
        var traces = await Eventually.ValueAsync(
            async () => (await _client.GetJsonAsync("/v1/ops/traces?keyword=kill_switch_expired")).GetProperty("data"),
            data => data.GetArrayLength() > 0);
        var expired = Assert.Single(traces.EnumerateArray());
        Assert.Contains("openai: the kill-switch set by", expired.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal("healthy", (await _client.ProviderHealthAsync("openai", verbose: true)).GetProperty("state").GetString());
        Assert.Equal("openai", await ServedByAsync(ViaAlias));
    }

    [Theory]
    [InlineData("openai", """{"action":"enable","effective_seconds":-5}""", "k-neg", 400)]
    [InlineData("openai", """{"action":"enable","effective_seconds":99999999}""", "k-huge", 400)]
    [InlineData("openai", """{"action":"maybe","effective_seconds":10}""", "k-action", 400)]
    [InlineData("nobody", """{"action":"enable","effective_seconds":10}""", "k-unknown", 404)]
    [InlineData("openai", """{"action":"enable","effective_seconds":10}""", null, 400)]
    public async Task KillSwitch_BadInput_IsRefused_AndNothingIsApplied(string provider, string body, string? key, int status)
    {
        using var response = await KillAsync(provider, body, key);

        await response.ProblemAsync(status);
        Assert.Equal("healthy", (await _client.ProviderHealthAsync("openai", verbose: true)).GetProperty("state").GetString());
    }

    [Fact]
    public async Task OpsEndpoints_WithoutAdminRole_Answer403()
    {
        using var tenant = _server.CreateClient((await _client.CreateKeyAsync("acme", "generate", "subscribe", "publish")).Key);

        using var health = await tenant.GetAsync("/v1/ops/llm/providers/health");
        using var kill = await tenant.PostJsonAsync("/v1/ops/llm/providers/openai/kill-switch", """{"action":"enable","effective_seconds":10}""");

        await health.ProblemAsync(403);
        await kill.ProblemAsync(403);
    }

    private static string Gauge(string metrics, string name, string provider) =>
        metrics.Split('\n').Single(l => l.StartsWith(name + "{", StringComparison.Ordinal) && l.Contains($"provider=\"{provider}\"", StringComparison.Ordinal)).Split(' ')[^1];

    private async Task<HttpResponseMessage> KillAsync(string provider, string body, string? key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/ops/llm/providers/{provider}/kill-switch")
        {
            Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json"),
        };
        if (key is not null)
        {
            request.Headers.Add("Idempotency-Key", key);
        }

        return await _client.SendAsync(request);
    }

    private async Task<string> ServedByAsync(string body)
    {
        var id = (await _client.CreateGenerationAsync(body)).GetProperty("id").GetString()!;
        var items = await _client.ReadEventsAsync(id);
        Assert.Equal("done", items[^1].EventType);
        Assert.DoesNotContain(items, i => i.EventType == "error");
        return JsonDocument.Parse(items[^1].Data).RootElement.GetProperty("provider").GetString()!;
    }

}
