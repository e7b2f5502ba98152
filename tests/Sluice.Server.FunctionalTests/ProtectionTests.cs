using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Sluice.Testing;

namespace Sluice.Server.FunctionalTests;

/// <summary>API.md sections 3 and 7: tenant rate limits and quotas, the emergency rate limit, shed endpoints, runtime limits.</summary>
public sealed class ProtectionTests
{
    private const string Slow = GenerationApi.EndlessGeneration;

    [Fact]
    public async Task TenantOverItsRateLimit_Gets429WithRetryAfter_WhileAnotherTenantIsUnaffected()
    {
        await using var server = await SluiceTestServer.StartAsync("memory", new Dictionary<string, string>
        {
            ["Sluice:Limits:RequestsPerMinute"] = "1",
            ["Sluice:Limits:RequestBurst"] = "3",
        });
        using var admin = server.CreateClient();
        using var acme = server.CreateClient((await admin.CreateKeyAsync("acme", "publish", "subscribe")).Key);
        using var globex = server.CreateClient((await admin.CreateKeyAsync("globex", "publish", "subscribe")).Key);

        for (var i = 0; i < 3; i++)
        {
            using var ok = await acme.GetAsync("/v1/streams/s");
            Assert.Equal(HttpStatusCode.NotFound, ok.StatusCode);
        }

        using var limited = await acme.GetAsync("/v1/streams/s");

        Assert.Equal("rate_limited", (await limited.ProblemAsync(429)).GetProperty("code").GetString());
        Assert.True(limited.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1));
        for (var i = 0; i < 3; i++)
        {
            using var other = await globex.GetAsync("/v1/streams/s");
            Assert.Equal(HttpStatusCode.NotFound, other.StatusCode);
        }

        // The operator is never locked out by the limit.
        using var operatorCall = await admin.GetAsync("/v1/admin/limits");
        Assert.Equal(HttpStatusCode.OK, operatorCall.StatusCode);
    }

    [Fact]
    public async Task EmergencyRateLimit_AppliesToEveryTenant_AndLifts()
    {
        await using var server = await SluiceTestServer.StartAsync("memory");
        using var admin = server.CreateClient();
        using var acme = server.CreateClient((await admin.CreateKeyAsync("acme", "publish", "subscribe")).Key);
        for (var i = 0; i < 5; i++)
        {
            using var before = await acme.GetAsync("/v1/streams/s");
            Assert.Equal(HttpStatusCode.NotFound, before.StatusCode);
        }

        using var set = await admin.PostJsonAsync("/v1/admin/rate-limit/emergency", """{"requests_per_minute":1,"burst":2}""");
        await Api.EnsureAsync(set, 200);
        Assert.True((await set.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("active").GetBoolean());
        var statuses = new List<int>();
        for (var i = 0; i < 3; i++)
        {
            using var during = await acme.GetAsync("/v1/streams/s");
            statuses.Add((int)during.StatusCode);
        }

        Assert.Equal([404, 404, 429], statuses);
        using var lift = await admin.DeleteAsync("/v1/admin/rate-limit/emergency");
        await Api.EnsureAsync(lift, 200);
        for (var i = 0; i < 5; i++)
        {
            using var after = await acme.GetAsync("/v1/streams/s");
            Assert.Equal(HttpStatusCode.NotFound, after.StatusCode);
        }

        Assert.False((await admin.GetJsonAsync("/v1/admin/rate-limit/emergency")).GetProperty("active").GetBoolean());
        using var bad = await admin.PostJsonAsync("/v1/admin/rate-limit/emergency", """{"requests_per_minute":0,"burst":2}""");
        await bad.ProblemAsync(400);
    }

    [Fact]
    public async Task ShedEndpoint_Answers503WithRetryAfter_WhileOthersServe()
    {
        await using var server = await SluiceTestServer.StartAsync("memory");
        using var admin = server.CreateClient();

        using var shed = await admin.PostJsonAsync("/v1/admin/circuit-breaker", """{"endpoints":["/v1/generations"],"action":"enable"}""");
        await Api.EnsureAsync(shed, 200);
        using var refused = await admin.PostJsonAsync("/v1/generations", """{"model":"simulated/default","messages":[{"role":"user","content":"x"}]}""");
        using var refusedGet = await admin.GetAsync("/v1/generations/gen_aaaaaaaaaaaaaaaaaaaaaaaa");
        using var served = await admin.GetAsync("/v1/streams/other");

        Assert.Equal("endpoint_shed", (await refused.ProblemAsync(503)).GetProperty("code").GetString());
        Assert.True(refused.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1));
        await refusedGet.ProblemAsync(503);
        Assert.Equal(HttpStatusCode.NotFound, served.StatusCode);
        Assert.Equal(["/v1/generations"], (await admin.GetJsonAsync("/v1/admin/circuit-breaker")).GetProperty("shed").EnumerateArray().Select(e => e.GetString()));

        using var unshed = await admin.PostJsonAsync("/v1/admin/circuit-breaker", """{"endpoints":["/v1/generations"],"action":"disable"}""");
        await Api.EnsureAsync(unshed, 200);
        await admin.CreateGenerationAsync("""{"model":"simulated/default","messages":[{"role":"user","content":"x"}]}""");

        using var lockout = await admin.PostJsonAsync("/v1/admin/circuit-breaker", """{"endpoints":["/v1/admin"],"action":"enable"}""");
        await lockout.ProblemAsync(400);
    }

    [Fact]
    public async Task RuntimeLimits_StreamsPerTenantAnswer429_NodeConnectionsAnswer503()
    {
        await using var server = await SluiceTestServer.StartAsync("memory");
        using var admin = server.CreateClient();
        var acmeKey = (await admin.CreateKeyAsync("acme", "publish", "subscribe")).Key;
        using var acme = server.CreateClient(acmeKey);
        using var globex = server.CreateClient((await admin.CreateKeyAsync("globex", "publish", "subscribe")).Key);
        await acme.PublishAsync("s", "token", new { text = "a" });
        await globex.PublishAsync("s", "token", new { text = "b" });

        using var limits = await admin.PutAsJsonAsync("/v1/admin/limits", new { max_streams_per_tenant = 1, max_sse_connections = 2 });
        await Api.EnsureAsync(limits, 200);
        await using var first = await SseClient.ConnectAsync(acme, "/v1/streams/s/events");
        using var second = await acme.GetAsync("/v1/streams/s/events", HttpCompletionOption.ResponseHeadersRead);
        await using var other = await SseClient.ConnectAsync(globex, "/v1/streams/s/events");
        using var third = await globex.GetAsync("/v1/streams/s/events", HttpCompletionOption.ResponseHeadersRead);

        Assert.Equal("quota_exceeded", (await second.ProblemAsync(429)).GetProperty("code").GetString());
        Assert.NotNull(second.Headers.RetryAfter);
        Assert.Equal("overloaded", (await third.ProblemAsync(503)).GetProperty("code").GetString());
        var view = await admin.GetJsonAsync("/v1/admin/limits");
        Assert.Equal(1, view.GetProperty("max_streams_per_tenant").GetInt32());
        Assert.Equal(2, view.GetProperty("max_sse_connections").GetInt32());
        using var bad = await admin.PutAsJsonAsync("/v1/admin/limits", new { max_concurrent_generations = 0 });
        await bad.ProblemAsync(400);
    }

    [Fact]
    public async Task RuntimeLimits_MaxConcurrentGenerations_LowersAndRaisesTheWorkers()
    {
        await using var server = await SluiceTestServer.StartAsync("memory", new Dictionary<string, string> { ["Sluice:Generations:QueueLength"] = "1" });
        using var admin = server.CreateClient();
        using var lower = await admin.PutAsJsonAsync("/v1/admin/limits", new { max_concurrent_generations = 1 });
        await Api.EnsureAsync(lower, 200);

        var running = (await admin.CreateGenerationAsync(Slow)).GetProperty("id").GetString()!;
        var waiting = (await admin.CreateGenerationAsync(Slow)).GetProperty("id").GetString()!;
        using var refused = await admin.PostJsonAsync("/v1/generations", Slow);
        Assert.Equal("overloaded", (await refused.ProblemAsync(503)).GetProperty("code").GetString());
        await using (var sse = await SseClient.ConnectAsync(admin, $"/v1/generations/{running}/events"))
        {
            Assert.Equal("token", (await sse.NextAsync())?.EventType);
        }

        Assert.Equal("queued", (await admin.GetJsonAsync($"/v1/generations/{waiting}")).GetProperty("status").GetString());

        using var raise = await admin.PutAsJsonAsync("/v1/admin/limits", new { max_concurrent_generations = 4 });
        await Api.EnsureAsync(raise, 200);

        // The queued one starts: its first token arrives.
        await using (var sse = await SseClient.ConnectAsync(admin, $"/v1/generations/{waiting}/events"))
        {
            Assert.Equal("token", (await sse.NextAsync())?.EventType);
        }

        foreach (var id in new[] { running, waiting })
        {
            using var cancel = await admin.PostAsync($"/v1/generations/{id}/cancel", null);
            Assert.Equal(HttpStatusCode.Accepted, cancel.StatusCode);
        }
    }

    [Fact]
    public async Task TenantOverItsGenerationQuota_Gets429_WhileAnotherTenantGenerates()
    {
        await using var server = await SluiceTestServer.StartAsync("memory", new Dictionary<string, string> { ["Sluice:Limits:MaxGenerationsPerTenant"] = "1" });
        using var admin = server.CreateClient();
        using var acme = server.CreateClient((await admin.CreateKeyAsync("acme", "generate", "subscribe")).Key);
        using var globex = server.CreateClient((await admin.CreateKeyAsync("globex", "generate", "subscribe")).Key);
        var first = (await acme.CreateGenerationAsync(Slow)).GetProperty("id").GetString()!;

        using var second = await acme.PostJsonAsync("/v1/generations", Slow);

        Assert.Equal("quota_exceeded", (await second.ProblemAsync(429)).GetProperty("code").GetString());
        Assert.NotNull(second.Headers.RetryAfter);
        var other = (await globex.CreateGenerationAsync(Slow)).GetProperty("id").GetString()!;
        using var cancelFirst = await acme.PostAsync($"/v1/generations/{first}/cancel", null);
        await acme.WaitFinishedAsync(first);
        await acme.CreateGenerationAsync("""{"model":"simulated/default","messages":[{"role":"user","content":"after"}]}""");
        using var cancelOther = await globex.PostAsync($"/v1/generations/{other}/cancel", null);
        Assert.Equal(HttpStatusCode.Accepted, cancelOther.StatusCode);
    }

    [Fact]
    public async Task ProtectionLevers_WithoutAdminRole_Answer403()
    {
        await using var server = await SluiceTestServer.StartAsync("memory");
        using var admin = server.CreateClient();
        using var tenant = server.CreateClient((await admin.CreateKeyAsync("acme", "publish", "subscribe", "generate")).Key);

        using var emergency = await tenant.PostJsonAsync("/v1/admin/rate-limit/emergency", """{"requests_per_minute":1,"burst":1}""");
        using var breaker = await tenant.PostJsonAsync("/v1/admin/circuit-breaker", """{"endpoints":["/v1/generations"],"action":"enable"}""");
        using var limits = await tenant.PutAsJsonAsync("/v1/admin/limits", new { max_sse_connections = 1 });

        foreach (var response in new[] { emergency, breaker, limits })
        {
            await response.ProblemAsync(403);
        }

        Assert.False((await admin.GetJsonAsync("/v1/admin/rate-limit/emergency")).GetProperty("active").GetBoolean());
    }
}
