using Sluice.Testing;

namespace Sluice.Server.FunctionalTests;

/// <summary>
/// Ops records live in the store: an Idempotency-Key replays its first response after a restart (and so on any
/// node of a cluster sharing the store), with no second effect and one audit entry; a kill-switch holds across a
/// restart until it is lifted or expires.
/// </summary>
public sealed class OpsIdempotencyTests
{
    private const string Rollback = """{"target_type":"prompt","target_id":"faq","to_version":1,"reason":"v2 regressed"}""";

    [Fact]
    public async Task AKeyReplaysItsFirstResponse_AfterARestart_WithNoSecondEffect()
    {
        string dataDir;
        string first;
        await using (var server = await SluiceTestServer.StartAsync("sqlite"))
        {
            dataDir = server.DataDir;
            using var client = server.CreateClient();
            using (var v1 = await client.PostJsonAsync("/v1/prompts/faq/versions", """{"template":"One {{q}}","model":"simulated/default"}"""))
            using (var v2 = await client.PostJsonAsync("/v1/prompts/faq/versions", """{"template":"Two {{q}}","model":"simulated/default"}"""))
            using (var approve = await client.PostAsync("/v1/prompts/faq/versions/2/approve", null))
            {
                await Api.EnsureAsync(approve, 200);
            }

            using var rollback = await PostAsync(client, "/v1/ops/rollbacks", Rollback, "rollback-faq-1");
            await Api.EnsureAsync(rollback, 200);
            Assert.False(rollback.Headers.Contains("Idempotent-Replayed"));
            first = await rollback.Content.ReadAsStringAsync();

            // Someone moves the prompt forward again after the rollback.
            using var forward = await client.PostAsync("/v1/prompts/faq/versions/2/approve", null);
            await Api.EnsureAsync(forward, 200);
        }

        await using (var restarted = await SluiceTestServer.StartAsync("sqlite", dataDir: dataDir))
        {
            using var client = restarted.CreateClient();
            using var again = await PostAsync(client, "/v1/ops/rollbacks", Rollback, "rollback-faq-1");

            Assert.Equal(200, (int)again.StatusCode);
            Assert.Equal("true", Assert.Single(again.Headers.GetValues("Idempotent-Replayed")));
            Assert.Equal(first, await again.Content.ReadAsStringAsync());
            Assert.Equal(2, (await client.GetJsonAsync("/v1/prompts/faq")).GetProperty("active_version").GetInt32());
            Assert.Single((await client.GetJsonAsync("/v1/ops/audit")).GetProperty("data").EnumerateArray(), e => e.GetProperty("action").GetString() == "rollback.prompt");

            using var reused = await PostAsync(client, "/v1/ops/rollbacks", Rollback.Replace("v2 regressed", "other reason", StringComparison.Ordinal), "rollback-faq-1");
            Assert.Equal("idempotency_key_reused", (await reused.ProblemAsync(422)).GetProperty("code").GetString());

            // The same key and body aimed at another tenant is another request, not a replay.
            using var otherTenant = await PostAsync(client, "/v1/ops/rollbacks", Rollback, "rollback-faq-1", tenant: "acme");
            Assert.Equal("idempotency_key_reused", (await otherTenant.ProblemAsync(422)).GetProperty("code").GetString());
        }
    }

    private static async Task<HttpResponseMessage> PostAsync(HttpClient client, string path, string body, string key, string? tenant = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json") };
        request.Headers.Add("Idempotency-Key", key);
        if (tenant is not null)
        {
            request.Headers.Add("X-Tenant-Key", tenant);
        }

        return await client.SendAsync(request);
    }

    [Fact]
    public async Task AKey_IsScopedByTheRoute_NotThePathsCase()
    {
        await using var server = await SluiceTestServer.StartAsync("sqlite");
        using var client = server.CreateClient();
        const string body = """{"action":"enable","reason":"game day","effective_seconds":60}""";

        using var first = await PostAsync(client, "/v1/ops/llm/providers/simulated/kill-switch", body, "kill-sim-1");
        using var shouted = await PostAsync(client, "/V1/OPS/LLM/PROVIDERS/simulated/KILL-SWITCH", body, "kill-sim-1");

        await Api.EnsureAsync(first, 200);
        await Api.EnsureAsync(shouted, 200);
        Assert.Equal("true", Assert.Single(shouted.Headers.GetValues("Idempotent-Replayed")));
        Assert.Equal(await first.Content.ReadAsStringAsync(), await shouted.Content.ReadAsStringAsync());
        Assert.Single((await client.GetJsonAsync("/v1/ops/audit")).GetProperty("data").EnumerateArray(), e => e.GetProperty("action").GetString()!.StartsWith("kill_switch", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AKillSwitch_OutlivesARestart_UntilItIsLifted()
    {
        string dataDir;
        string expiresAt;
        await using (var server = await SluiceTestServer.StartAsync("sqlite"))
        {
            dataDir = server.DataDir;
            using var client = server.CreateClient();
            using var kill = await PostAsync(client, "/v1/ops/llm/providers/simulated/kill-switch", """{"action":"enable","reason":"drill","effective_seconds":600}""", "kill-restart-1");
            await Api.EnsureAsync(kill, 200);
            expiresAt = (await client.ProviderHealthAsync("simulated")).GetProperty("kill_switch").GetProperty("expires_at").GetString()!;
        }

        await using (var restarted = await SluiceTestServer.StartAsync("sqlite", dataDir: dataDir))
        {
            using var client = restarted.CreateClient();
            var health = await client.ProviderHealthAsync("simulated");
            Assert.Equal("killed", health.GetProperty("state").GetString());
            Assert.Equal(expiresAt, health.GetProperty("kill_switch").GetProperty("expires_at").GetString());
            Assert.Equal("drill", health.GetProperty("kill_switch").GetProperty("reason").GetString());
            var id = (await client.CreateGenerationAsync("""{"model":"simulated/default","messages":[{"role":"user","content":"hi"}]}""")).GetProperty("id").GetString()!;
            Assert.Equal("error", (await client.ReadEventsAsync(id))[^1].EventType);

            using var lift = await PostAsync(client, "/v1/ops/llm/providers/simulated/kill-switch", """{"action":"disable","reason":"drill over"}""", "kill-restart-2");
            await Api.EnsureAsync(lift, 200);
        }

        await using (var again = await SluiceTestServer.StartAsync("sqlite", dataDir: dataDir))
        {
            using var client = again.CreateClient();
            Assert.Equal("healthy", (await client.ProviderHealthAsync("simulated")).GetProperty("state").GetString());
        }
    }
}
