using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Time.Testing;
using Sluice.Fanout;
using Sluice.Testing;

namespace Sluice.Server.FunctionalTests;

/// <summary>
/// Runs alone: OpenTelemetry subscribes to meters by name process-wide, so another test's server in the same
/// process would add to the counts asserted here.
/// </summary>
[CollectionDefinition(nameof(ObservabilityTests), DisableParallelization = true)]
public sealed class ObservabilityCollection;

[Collection(nameof(ObservabilityTests))]
public sealed partial class ObservabilityTests
{
    [Fact]
    public async Task Metrics_MoveAsTheContractSays_AndNoLabelCarriesIdsTenantsOrSecrets()
    {
        await using var server = await SluiceTestServer.StartAsync("memory");
        using var admin = server.CreateClient();
        var (key, _) = await admin.CreateKeyAsync("tenant-acme-7", "publish", "subscribe");
        using var client = server.CreateClient(key);
        using var anonymous = server.CreateClient(key: null);
        var hub = server.App.Services.GetRequiredService<StreamHub>();

        await client.PublishAsync("stream-secret-42", "token", new { text = "a" });
        await client.PublishAsync("stream-secret-42", "token", new { text = "b" });
        string token;
        using (var tokenResponse = await client.PostAsync("/v1/streams/stream-secret-42/tokens", null))
        {
            token = (await tokenResponse.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("access_token").GetString()!;
        }

        // Connect (open), then read 2 tokens.
        await using (var sse = await SseClient.ConnectAsync(anonymous, $"/v1/streams/stream-secret-42/events?access_token={Uri.EscapeDataString(token)}"))
        {
            await sse.NextAsync();
            await sse.NextAsync();
            Assert.Equal(1, Value(await ScrapeAsync(anonymous), "sluice_sse_connections_open"));
        }

        // A reconnect from id 1 (1 token), and a provoked resume failure (a position from the future).
        await using (var resumed = await SseClient.ConnectAsync(client, "/v1/streams/stream-secret-42/events", lastEventId: "1"))
        {
            await resumed.NextAsync();
        }

        await using (var ahead = await SseClient.ConnectAsync(client, "/v1/streams/stream-secret-42/events", lastEventId: "99"))
        {
            await ahead.NextAsync();
        }

        await Eventually.TrueAsync(() => hub.OpenConnections == 0);
        var text = await ScrapeAsync(anonymous);

        Assert.Equal(0, Value(text, "sluice_sse_connections_open"));
        Assert.Equal(2, Value(text, "sluice_sse_reconnects_total"));
        Assert.Equal(3, Value(text, "sluice_sse_disconnects_total", "reason=\"client\""));
        Assert.Equal(1, Value(text, "sluice_sse_resume_failures_total", "reason=\"event_id_ahead\""));
        Assert.Equal(3, Value(text, "sluice_sse_events_sent_total", "type=\"token\""));
        Assert.Equal(3, Value(text, "sluice_sse_connection_duration_seconds_count"));
        Assert.Equal(2, Value(text, "sluice_http_requests_total", "route=\"/v1/streams/{streamId}/events\"", "status=\"201\""));
        Assert.True(Value(text, "sluice_sse_last_event_age_seconds") >= 0);
        Assert.DoesNotContain("stream-secret-42", text, StringComparison.Ordinal);
        Assert.DoesNotContain("tenant-acme-7", text, StringComparison.Ordinal);
        Assert.DoesNotContain(key, text, StringComparison.Ordinal);
        Assert.DoesNotContain(token, text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Metrics_Generations_CountByStatus_AndRecordTimeToFirstTokenAndDuration()
    {
        await using var server = await SluiceTestServer.StartAsync("memory");
        using var client = server.CreateClient();
        var ids = new List<string>();
        foreach (var body in new[]
        {
            """{"model":"simulated/default","messages":[{"role":"user","content":"a"}]}""",
            """{"model":"simulated/default","messages":[{"role":"user","content":"b"}]}""",
            """{"model":"simulated/default","messages":[{"role":"user","content":"c"}],"simulate":{"fail":"mid_stream","fail_after_tokens":2}}""",
            """{"model":"simulated/default","messages":[{"role":"user","content":"d"}],"simulate":{"fail":"before_first_token"}}""",
        })
        {
            var id = (await client.CreateGenerationAsync(body)).GetProperty("id").GetString()!;
            ids.Add(id);
            await client.WaitFinishedAsync(id);
        }

        var text = await ScrapeAsync(client);

        Assert.Equal(2, Value(text, "sluice_generations_total", "status=\"succeeded\""));
        Assert.Equal(2, Value(text, "sluice_generations_total", "status=\"failed\""));
        // Three runs wrote a first token; the one that failed before it has a duration but no TTFT.
        Assert.Equal(3, Value(text, "sluice_generation_ttft_seconds_count", "provider=\"simulated\"", "model=\"default\""));
        Assert.Equal(4, Value(text, "sluice_generation_duration_seconds_count", "provider=\"simulated\"", "model=\"default\""));
        Assert.Equal(3, Value(text, "sluice_generation_ttft_seconds_bucket", "provider=\"simulated\"", "le=\"+Inf\""));
        Assert.Contains("sluice_generation_ttft_seconds_bucket{", text, StringComparison.Ordinal);
        Assert.Contains("le=\"0.001\"", text, StringComparison.Ordinal);
        Assert.All(ids, id => Assert.DoesNotContain(id, text, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Metrics_TurnedOff_HasNoScrapeEndpoint_AndStreamsStillServe()
    {
        await using var server = await SluiceTestServer.StartAsync("memory", new Dictionary<string, string> { ["Sluice:Telemetry:Metrics"] = "false" });
        using var client = server.CreateClient();
        await client.PublishAsync("quiet", "token", new { text = "a" });
        await client.PublishAsync("quiet", "done");

        using var metrics = await client.GetAsync("/metrics");
        await using var sse = await SseClient.ConnectAsync(client, "/v1/streams/quiet/events");

        await metrics.ProblemAsync(404);
        Assert.Equal(["token", "done"], await sse.ReadAllAsync().Select(i => i.EventType).ToListAsync());
    }

    [Fact]
    public async Task Metrics_HistoryTruncated_CountsAsResumeFailure()
    {
        await using var server = await SluiceTestServer.StartAsync("memory", new Dictionary<string, string> { ["Sluice:Retention:MaxEventsPerStream"] = "2" });
        using var client = server.CreateClient();
        for (var i = 0; i < 5; i++)
        {
            await client.PublishAsync("t", "token");
        }

        await client.PublishAsync("t", "done");
        await using (var sse = await SseClient.ConnectAsync(client, "/v1/streams/t/events", lastEventId: "1"))
        {
            await sse.ReadAllAsync().ToListAsync();
        }

        Assert.Equal(1, Value(await ScrapeAsync(client), "sluice_sse_resume_failures_total", "reason=\"history_truncated\""));
    }

    [Fact]
    public async Task SseHealth_GoesHealthyStaleDown_AsTheLastEventAges()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var server = await SluiceTestServer.StartAsync("memory", configure: b => b.Services.Replace(ServiceDescriptor.Singleton<TimeProvider>(time)));
        using var client = server.CreateClient();
        await client.PublishAsync("h", "token");
        await client.PublishAsync("h", "done");
        await using (var sse = await SseClient.ConnectAsync(client, "/v1/streams/h/events", lastEventId: "0"))
        {
            await sse.ReadAllAsync().ToListAsync();
        }

        var healthy = await client.GetJsonAsync("/v1/sse/health");
        time.Advance(TimeSpan.FromSeconds(31));
        var stale = await client.GetJsonAsync("/v1/sse/health");
        time.Advance(TimeSpan.FromSeconds(30));
        var down = await client.GetJsonAsync("/v1/sse/health");
        time.Advance(TimeSpan.FromMinutes(5));
        var later = await client.GetJsonAsync("/v1/sse/health");

        Assert.Equal("healthy", healthy.GetProperty("status").GetString());
        Assert.Equal(1, healthy.GetProperty("reconnects_5m").GetInt64());
        Assert.Equal(0, healthy.GetProperty("open_connections").GetInt32());
        Assert.Equal("stale", stale.GetProperty("status").GetString());
        Assert.Equal(31, stale.GetProperty("last_event_age_seconds").GetDouble(), 1);
        Assert.Equal("down", down.GetProperty("status").GetString());
        Assert.Equal(0, later.GetProperty("reconnects_5m").GetInt64());
    }

    [Fact]
    public async Task BroadcastReconnect_ClientsGetJitteredRetryAndResumeWithoutLoss()
    {
        await using var server = await SluiceTestServer.StartAsync("memory");
        using var client = server.CreateClient();
        var hub = server.App.Services.GetRequiredService<StreamHub>();
        await client.PublishAsync("b", "token", new { n = 1 });
        var clients = new List<SseClient>();
        for (var i = 0; i < 20; i++)
        {
            var sse = await SseClient.ConnectAsync(client, "/v1/streams/b/events");
            Assert.Equal("1", (await sse.NextAsync())!.Value.EventId);
            clients.Add(sse);
        }

        await Eventually.TrueAsync(() => hub.OpenConnections == 20);
        using var response = await client.PostAsJsonAsync("/v1/admin/sse/broadcast-reconnect", new { retry_ms = 2000 });
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        var retries = new List<TimeSpan>();
        foreach (var sse in clients)
        {
            Assert.Empty(await sse.ReadAllAsync().ToListAsync());
            retries.Add(sse.Parser.ReconnectionInterval);
        }

        await client.PublishAsync("b", "token", new { n = 2 });
        await client.PublishAsync("b", "done");
        var resumed = new List<string?>();
        foreach (var sse in clients)
        {
            await using var again = await SseClient.ConnectAsync(client, "/v1/streams/b/events", sse.Parser.LastEventId);
            resumed.AddRange((await again.ReadAllAsync().ToListAsync()).Select(e => e.EventId));
            await sse.DisposeAsync();
        }

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal(20, body.GetProperty("connections").GetInt32());
        Assert.All(retries, r => Assert.InRange(r.TotalMilliseconds, 1000, 3000));
        Assert.True(retries.Distinct().Count() > 1, "retry: values are jittered, not one wave");
        Assert.Equal(Enumerable.Repeat(new[] { "2", "3" }, 20).SelectMany(x => x), resumed);
    }

    [Fact]
    public async Task Drain_ReadinessFails_NewSseGets503_OpenClientsAreSentAway()
    {
        await using var server = await SluiceTestServer.StartAsync("memory");
        using var client = server.CreateClient();
        using var anonymous = server.CreateClient(key: null);
        await client.PublishAsync("d", "token");
        await using var open = await SseClient.ConnectAsync(client, "/v1/streams/d/events");
        await open.NextAsync();
        using var readyBefore = await anonymous.GetAsync("/health/ready");

        using var drain = await client.PostAsync("/v1/admin/drain", null);
        var rest = await open.ReadAllAsync().ToListAsync();
        using var readyAfter = await anonymous.GetAsync("/health/ready");
        using var refused = await client.GetAsync("/v1/streams/d/events", HttpCompletionOption.ResponseHeadersRead);
        await client.PublishAsync("d", "token");

        Assert.Equal(HttpStatusCode.OK, readyBefore.StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, drain.StatusCode);
        Assert.Empty(rest);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, readyAfter.StatusCode);
        await refused.ProblemAsync(503);
        Assert.True(refused.Headers.Contains("Retry-After"));
    }

    [Fact]
    public async Task AdminLevers_WithoutAdminRole_Answer403()
    {
        await using var server = await SluiceTestServer.StartAsync("memory");
        using var admin = server.CreateClient();
        var (key, _) = await admin.CreateKeyAsync("acme", "publish", "subscribe");
        using var client = server.CreateClient(key);

        using var broadcast = await client.PostAsync("/v1/admin/sse/broadcast-reconnect", null);
        using var drain = await client.PostAsync("/v1/admin/drain", null);
        using var badRetry = await admin.PostAsJsonAsync("/v1/admin/sse/broadcast-reconnect", new { retry_ms = -5 });

        await broadcast.ProblemAsync(403);
        await drain.ProblemAsync(403);
        await badRetry.ProblemAsync(400);
    }

    private static async Task<string> ScrapeAsync(HttpClient client)
    {
        using var response = await client.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadAsStringAsync();
    }

    /// <summary>The value of the one series of <paramref name="name"/> whose labels include all of <paramref name="labels"/>.</summary>
    private static double Value(string text, string name, params string[] labels)
    {
        foreach (Match m in Series().Matches(text))
        {
            if (m.Groups["name"].Value == name && labels.All(l => m.Groups["labels"].Value.Contains(l, StringComparison.Ordinal)))
            {
                return double.Parse(m.Groups["value"].Value, CultureInfo.InvariantCulture);
            }
        }

        throw new Xunit.Sdk.XunitException($"no series {name} {string.Join(",", labels)} in:\n{text}");
    }

    [GeneratedRegex(@"^(?<name>[a-z_]+)(\{(?<labels>.*)\})? (?<value>\S+)$", RegexOptions.Multiline)]
    private static partial Regex Series();
}
