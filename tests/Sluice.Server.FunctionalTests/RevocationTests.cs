using System.Net.ServerSentEvents;
using System.Text.Json;
using Sluice.Testing;

namespace Sluice.Server.FunctionalTests;

/// <summary>
/// API.md section 1: a revoked key stops working at once, open responses included; a response opened with an
/// access token ends at the token's expiry; POST /v1/generations/{id}/tokens refreshes a browser's token.
/// </summary>
[Collection(nameof(ObservabilityTests))] // asserts exported metrics: the meter listener is process-wide
public sealed class RevocationTests : IAsyncLifetime
{
    private SluiceTestServer _server = null!;
    private HttpClient _admin = null!;

    public async Task InitializeAsync()
    {
        _server = await SluiceTestServer.StartAsync();
        _admin = _server.CreateClient();
    }

    public async Task DisposeAsync()
    {
        _admin.Dispose();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task RevokingAKey_EndsItsOpenResponse_WithAnIdlessCredentialRevokedError_AndAReconnectIs401()
    {
        var (key, id) = await _admin.CreateKeyAsync("acme", "publish", "subscribe");
        using var client = _server.CreateClient(key);
        await client.PublishAsync("revoked-live", "token", new { text = "a" });
        await using var sse = await SseClient.ConnectAsync(client, "/v1/streams/revoked-live/events");
        Assert.Equal("1", (await NextEventAsync(sse)).EventId);

        using var revoke = await _admin.DeleteAsync($"/v1/admin/keys/{id}");
        await Api.EnsureAsync(revoke, 204);

        var rest = await RestAsync(sse);
        var error = Assert.Single(rest);
        Assert.Equal("error", error.EventType);
        Assert.Null(error.EventId);
        Assert.Equal("credential_revoked", JsonDocument.Parse(error.Data).RootElement.GetProperty("code").GetString());
        using var again = await client.GetAsync("/v1/streams/revoked-live/events");
        await again.ProblemAsync(401);
        Assert.Contains((await _admin.GetStringAsync("/metrics")).Split('\n'), l => l.StartsWith("sluice_sse_disconnects_total{", StringComparison.Ordinal) && l.Contains("reason=\"revoked\"", StringComparison.Ordinal));
    }

    [Fact]
    public async Task RevokingAKey_EndsTheResponsesOfTheTokensItMinted()
    {
        var (key, id) = await _admin.CreateKeyAsync("acme", "publish", "subscribe");
        using var client = _server.CreateClient(key);
        await client.PublishAsync("revoked-token", "token", new { text = "a" });
        using var minted = await client.PostJsonAsync("/v1/streams/revoked-token/tokens", "{}");
        var url = (await minted.ProblemOrJsonAsync()).GetProperty("events_url").GetString()!;
        using var browser = _server.CreateClient(key: null);
        await using var sse = await SseClient.ConnectAsync(browser, url);
        await NextEventAsync(sse);

        using var revoke = await _admin.DeleteAsync($"/v1/admin/keys/{id}");
        await Api.EnsureAsync(revoke, 204);

        Assert.Equal("credential_revoked", JsonDocument.Parse(Assert.Single(await RestAsync(sse)).Data).RootElement.GetProperty("code").GetString());
        using var again = await browser.GetAsync(url);
        await again.ProblemAsync(401);
    }

    [Fact]
    public async Task AResponseOpenedWithAnAccessToken_EndsAtTheTokensExpiry()
    {
        var (key, _) = await _admin.CreateKeyAsync("acme", "publish", "subscribe");
        using var client = _server.CreateClient(key);
        await client.PublishAsync("expiring", "token", new { text = "a" });
        using var minted = await client.PostJsonAsync("/v1/streams/expiring/tokens", """{"ttl_seconds":1}""");
        var url = (await minted.ProblemOrJsonAsync()).GetProperty("events_url").GetString()!;
        using var browser = _server.CreateClient(key: null);
        await using var sse = await SseClient.ConnectAsync(browser, url);
        await NextEventAsync(sse);

        var error = Assert.Single(await RestAsync(sse));

        Assert.Null(error.EventId);
        Assert.Equal("credential_expired", JsonDocument.Parse(error.Data).RootElement.GetProperty("code").GetString());
        using var again = await browser.GetAsync(url);
        await again.ProblemAsync(401);
        Assert.Contains((await _admin.GetStringAsync("/metrics")).Split('\n'), l => l.StartsWith("sluice_sse_disconnects_total{", StringComparison.Ordinal) && l.Contains("reason=\"expired\"", StringComparison.Ordinal));
    }

    [Fact]
    public async Task GenerationTokens_MintAFreshEventsUrl_ForThisTenantsGenerationsOnly()
    {
        var (key, _) = await _admin.CreateKeyAsync("acme", "generate");
        using var client = _server.CreateClient(key);
        var id = (await client.CreateGenerationAsync("""{"model":"simulated/default","messages":[{"role":"user","content":"refresh"}],"simulate":{"ttft_ms":0,"tokens_per_second":0}}""")).GetProperty("id").GetString()!;

        using var minted = await client.PostJsonAsync($"/v1/generations/{id}/tokens", """{"ttl_seconds":120}""");
        var body = await minted.ProblemOrJsonAsync();
        var expires = body.GetProperty("expires_at").GetDateTimeOffset();
        Assert.InRange(expires, DateTimeOffset.UtcNow.AddSeconds(100), DateTimeOffset.UtcNow.AddSeconds(125));
        using var browser = _server.CreateClient(key: null);
        var items = await browser.ReadEventsAsync(id, query: new Uri(body.GetProperty("events_url").GetString()!).Query);
        Assert.Equal("done", items[^1].EventType);

        var (other, _) = await _admin.CreateKeyAsync("globex", "generate");
        using var otherClient = _server.CreateClient(other);
        using var foreign = await otherClient.PostAsync($"/v1/generations/{id}/tokens", null);
        await foreign.ProblemAsync(404);
        using var tooLong = await client.PostJsonAsync($"/v1/generations/{id}/tokens", """{"ttl_seconds":86401}""");
        await tooLong.ProblemAsync(400);
        using var missing = await client.PostAsync("/v1/generations/gen_doesnotexist000000000000/tokens", null);
        await missing.ProblemAsync(404);
    }

    private static async Task<SseItem<string>> NextEventAsync(SseClient sse)
    {
        while (await sse.NextAsync() is { } item)
        {
            if (item.EventType != "heartbeat")
            {
                return item;
            }
        }

        throw new InvalidOperationException("the response ended");
    }

    /// <summary>Every non-heartbeat item until the server ends the response.</summary>
    private static async Task<List<SseItem<string>>> RestAsync(SseClient sse)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var items = new List<SseItem<string>>();
        await foreach (var item in sse.ReadAllAsync(timeout.Token))
        {
            if (item.EventType != "heartbeat")
            {
                items.Add(item);
            }
        }

        return items;
    }
}

internal static class TokenResponses
{
    public static async Task<JsonElement> ProblemOrJsonAsync(this HttpResponseMessage response)
    {
        await Api.EnsureAsync(response, 200);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
    }
}
