using System.Net.Http.Json;
using System.Text.Json;
using Sluice.Testing;

namespace Sluice.Server.FunctionalTests;

/// <summary>Every admin action lands in the audit trail (API.md sections 6 and 7), readable at /v1/ops/audit.</summary>
public sealed class AuditTests
{
    [Fact]
    public async Task AdminActions_AreAudited_WithActorTraceIdReasonAndBeforeAfter()
    {
        await using var server = await SluiceTestServer.StartAsync();
        using var admin = server.CreateClient();
        admin.DefaultRequestHeaders.Add("X-Trace-Id", "trace-audit-1");
        var (_, keyId) = await admin.CreateKeyAsync("acme", "publish");
        using (var revoke = await admin.DeleteAsync($"/v1/admin/keys/{keyId}"))
        {
            await Api.EnsureAsync(revoke, 204);
        }

        using (var set = await admin.PostJsonAsync("/v1/admin/rate-limit/emergency", """{"requests_per_minute":600,"burst":50,"reason":"flood from a client bug"}"""))
        {
            await Api.EnsureAsync(set, 200);
        }

        using (var lift = await admin.DeleteAsync("/v1/admin/rate-limit/emergency"))
        {
            await Api.EnsureAsync(lift, 200);
        }

        using (var shed = await admin.PostJsonAsync("/v1/admin/circuit-breaker", """{"endpoints":["/v1/generations"],"action":"enable","reason":"cpu"}"""))
        {
            await Api.EnsureAsync(shed, 200);
        }

        using (var limits = await admin.PutAsJsonAsync("/v1/admin/limits", new { max_sse_connections = 100 }))
        {
            await Api.EnsureAsync(limits, 200);
        }

        using (var broadcast = await admin.PostAsync("/v1/admin/sse/broadcast-reconnect", null))
        {
            await Api.EnsureAsync(broadcast, 202);
        }

        using (var drain = await admin.PostAsync("/v1/admin/drain", null))
        {
            await Api.EnsureAsync(drain, 202);
        }

        var page = await admin.GetJsonAsync("/v1/ops/audit?size=100");
        var entries = page.GetProperty("data").EnumerateArray().ToList();

        Assert.Equal(
            ["node.drain", "sse.broadcast_reconnect", "limits.set", "circuit_breaker.enable", "rate_limit.emergency.lift", "rate_limit.emergency.set", "keys.revoke", "keys.create"],
            entries.Select(e => e.GetProperty("action").GetString()));
        Assert.All(entries, e => Assert.Equal("trace-audit-1", e.GetProperty("trace_id").GetString()));
        Assert.All(entries, e => Assert.StartsWith("key_", e.GetProperty("actor").GetProperty("key_id").GetString(), StringComparison.Ordinal));
        var emergency = entries.Single(e => e.GetProperty("action").GetString() == "rate_limit.emergency.set");
        Assert.Equal("flood from a client bug", emergency.GetProperty("reason").GetString());
        Assert.False(emergency.GetProperty("before").GetProperty("active").GetBoolean());
        Assert.Equal(600, emergency.GetProperty("after").GetProperty("requests_per_minute").GetInt32());
        var limitsEntry = entries.Single(e => e.GetProperty("action").GetString() == "limits.set");
        Assert.Equal(100, limitsEntry.GetProperty("after").GetProperty("max_sse_connections").GetInt32());
        Assert.Equal("key:" + keyId, entries.Single(e => e.GetProperty("action").GetString() == "keys.revoke").GetProperty("target").GetString());
        // The audit never holds a secret.
        Assert.DoesNotContain("sk_", page.ToString(), StringComparison.Ordinal);

        var paged = await admin.GetJsonAsync("/v1/ops/audit?size=3&page=1");
        Assert.Equal(["circuit_breaker.enable", "rate_limit.emergency.lift", "rate_limit.emergency.set"],
            paged.GetProperty("data").EnumerateArray().Select(e => e.GetProperty("action").GetString()));
    }

    [Fact]
    public async Task Audit_ForNonAdmin_Is403_AndBadRangeIs400()
    {
        await using var server = await SluiceTestServer.StartAsync("memory");
        using var admin = server.CreateClient();
        using var tenant = server.CreateClient((await admin.CreateKeyAsync("acme", "publish", "subscribe", "generate")).Key);

        using var forbidden = await tenant.GetAsync("/v1/ops/audit");
        using var badRange = await admin.GetAsync("/v1/ops/audit?from=2026-12-02T00:00:00Z&to=2026-12-01T00:00:00Z");
        using var badSize = await admin.GetAsync("/v1/ops/audit?size=0");

        await forbidden.ProblemAsync(403);
        await badRange.ProblemAsync(400);
        await badSize.ProblemAsync(400);
    }
}
