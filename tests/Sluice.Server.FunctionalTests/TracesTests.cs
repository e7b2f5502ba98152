using System.Net.Http.Json;
using System.Text.Json;
using Sluice.Testing;

namespace Sluice.Server.FunctionalTests;

/// <summary>API.md section 6: recorded trace events, found by keyword with their trace ids, never holding a token.</summary>
public sealed class TracesTests
{
    [Fact]
    public async Task ProvokedResumeFailure_IsFoundByKeyword_WithItsTraceId_AndNoAccessToken()
    {
        await using var server = await SluiceTestServer.StartAsync();
        using var admin = server.CreateClient();
        await admin.PublishAsync("traced", "token", new { text = "a" });
        string token;
        using (var tokenResponse = await admin.PostAsync("/v1/streams/traced/tokens", null))
        {
            token = (await tokenResponse.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("access_token").GetString()!;
        }

        using var browser = new HttpClient { BaseAddress = server.BaseAddress };
        browser.DefaultRequestHeaders.Add("X-Trace-Id", "trace-resume-42");
        await using (var ahead = await SseClient.ConnectAsync(browser, $"/v1/streams/traced/events?access_token={Uri.EscapeDataString(token)}", lastEventId: "99"))
        {
            Assert.Equal("error", (await ahead.NextAsync())?.EventType);
        }

        var found = await admin.GetJsonAsync("/v1/ops/traces?keyword=sse_resume_failed");

        var trace = Assert.Single(found.GetProperty("data").EnumerateArray());
        Assert.Equal("sse_resume_failed", trace.GetProperty("kind").GetString());
        Assert.Equal("trace-resume-42", trace.GetProperty("trace_id").GetString());
        Assert.Equal("default", trace.GetProperty("tenant").GetString());
        Assert.Contains("event_id_ahead", trace.GetProperty("detail").GetString(), StringComparison.Ordinal);
        var everything = await admin.GetStringAsync("/v1/ops/traces?size=1000");
        Assert.DoesNotContain(token, everything, StringComparison.Ordinal);
        Assert.DoesNotContain("access_token", everything, StringComparison.Ordinal);
        Assert.Single((await admin.GetJsonAsync("/v1/ops/traces?keyword=trace-resume-42")).GetProperty("data").EnumerateArray());
        Assert.Single(await TracesForAsync(admin, "default", "sse_resume_failed"));
        Assert.Empty(await TracesForAsync(admin, "acme", "sse_resume_failed"));
        Assert.Empty((await admin.GetJsonAsync("/v1/ops/traces?keyword=sse_resume_failed&to=2000-01-01T00:00:00Z&from=1999-01-01T00:00:00Z")).GetProperty("data").EnumerateArray());
    }

    [Fact]
    public async Task ProviderFailures_AreRecordedWithTheirGeneration()
    {
        await using var server = await SluiceTestServer.StartAsync("memory");
        using var admin = server.CreateClient();
        var id = (await admin.CreateGenerationAsync(
            """{"model":"simulated/default","messages":[{"role":"user","content":"x"}],"simulate":{"fail":"mid_stream","fail_after_tokens":1}}""")).GetProperty("id").GetString()!;
        await admin.WaitFinishedAsync(id);

        var found = await admin.GetJsonAsync($"/v1/ops/traces?keyword={id}");

        var trace = Assert.Single(found.GetProperty("data").EnumerateArray());
        Assert.Equal("provider_unavailable", trace.GetProperty("kind").GetString());
        Assert.Equal(id, trace.GetProperty("generation_id").GetString());
        Assert.False(string.IsNullOrEmpty(trace.GetProperty("trace_id").GetString()));

        using var tenant = server.CreateClient((await admin.CreateKeyAsync("acme", "publish", "subscribe")).Key);
        using var forbidden = await tenant.GetAsync("/v1/ops/traces");
        await forbidden.ProblemAsync(403);
    }

    [Theory]
    [InlineData("?page=-1")]
    [InlineData("?size=0")]
    [InlineData("?size=1001")]
    [InlineData("?page=10&size=1000")]
    [InlineData("?page=100&size=100")]
    [InlineData("?page=2147483647&size=1000")]
    [InlineData("?from=2026-12-01T10:00:00Z&to=2026-12-01T09:00:00Z")]
    [InlineData("?from=yesterday")]
    public async Task BadSearch_Is400ProblemJson(string query)
    {
        await using var server = await SluiceTestServer.StartAsync("memory");
        using var admin = server.CreateClient();
        using var response = await admin.GetAsync("/v1/ops/traces" + query);
        await response.ProblemAsync(400);
        // A client's bad input is not a server error: nothing at Error in the log.
        Assert.DoesNotContain(server.Logs.Lines, l => l.StartsWith("Error", StringComparison.Ordinal) || l.StartsWith("Critical", StringComparison.Ordinal));
    }

    /// <summary>A search with an admin's <c>X-Tenant-Key</c>: that tenant's events only.</summary>
    private static async Task<List<JsonElement>> TracesForAsync(HttpClient admin, string tenant, string keyword)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/ops/traces?keyword=" + keyword) { Headers = { { "X-Tenant-Key", tenant } } };
        using var response = await admin.SendAsync(request);
        await Api.EnsureAsync(response, 200);
        return [.. (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("data").EnumerateArray()];
    }
}
