using System.Net.Http.Json;
using System.Text.Json;
using Sluice.Testing;

namespace Sluice.Server.FunctionalTests;

/// <summary>API.md section 6: the hourly metrics summary, checked against the generations' own records.</summary>
public sealed class MetricsSummaryTests
{
    [Fact]
    public async Task Summary_P95sAgreeWithTheGenerationsRecordedTimings_AndCountsMove()
    {
        await using var server = await SluiceTestServer.StartAsync();
        using var admin = server.CreateClient();
        var (key, _) = await admin.CreateKeyAsync("acme", "generate", "subscribe", "publish");
        using var acme = server.CreateClient(key);
        var ids = new List<string>();
        for (var i = 0; i < 12; i++)
        {
            var id = (await acme.CreateGenerationAsync(
                $$$"""{"model":"simulated/default","channel":"web","messages":[{"role":"user","content":"n{{{i}}}"}],"simulate":{"output_tokens":{{{5 + i}}},"ttft_ms":{{{i * 3}}}}}""")).GetProperty("id").GetString()!;
            ids.Add(id);
            await acme.WaitFinishedAsync(id);
        }

        using (var missing = await acme.GetAsync("/v1/streams/none"))
        {
            Assert.Equal(404, (int)missing.StatusCode);
        }

        await acme.PublishAsync("s", "token", new { text = "a" });
        await using (var ahead = await SseClient.ConnectAsync(acme, "/v1/streams/s/events", lastEventId: "9"))
        {
            await ahead.NextAsync();
        }

        var records = new List<JsonElement>();
        foreach (var id in ids)
        {
            records.Add(await acme.GetJsonAsync($"/v1/generations/{id}"));
        }

        var summary = await admin.GetJsonAsync("/v1/ops/metrics/summary?limit=100");

        var rows = summary.GetProperty("data").EnumerateArray().Where(r => r.GetProperty("tenant").GetString() == "acme").ToList();
        // A generation counts in the hour it completed: group the records the same way, so a run that crosses
        // an hour boundary is checked row by row instead of failing.
        foreach (var group in records.GroupBy(r => HourOf(r.GetProperty("completed_at").GetDateTimeOffset())))
        {
            var web = rows.Single(r => r.GetProperty("channel").GetString() == "web" && r.GetProperty("hour").GetDateTimeOffset() == group.Key);
            Assert.Equal(P95(group.Select(r => r.GetProperty("ttft_ms").GetInt64())), web.GetProperty("ttft_p95_ms").GetDouble());
            Assert.Equal(P95(group.Select(r => r.GetProperty("e2e_ms").GetInt64())), web.GetProperty("e2e_p95_ms").GetDouble());
            Assert.Equal(group.Sum(r => r.GetProperty("usage").GetProperty("output_tokens").GetInt64()), web.GetProperty("output_tokens").GetInt64());
            Assert.Equal(0, web.GetProperty("hour").GetDateTimeOffset().Minute);
            Assert.Equal(0, web.GetProperty("hour").GetDateTimeOffset().Second);
        }

        var http = rows.Where(r => r.GetProperty("channel").GetString() == "").ToList();
        Assert.NotEmpty(http);
        Assert.True(http.Sum(r => r.GetProperty("requests").GetInt64()) >= 12 + 12 + 1 + 1);
        Assert.True(http.Sum(r => r.GetProperty("errors_by_status").TryGetProperty("404", out var n) ? n.GetInt64() : 0) >= 1);
        Assert.True(http.Sum(r => r.GetProperty("sse_connections").GetInt64()) >= 13);
        Assert.Equal(1, http.Sum(r => r.GetProperty("resume_attempts").GetInt64()));
        Assert.Equal(1, http.Sum(r => r.GetProperty("resume_failures").GetInt64()));

        // An admin's X-Tenant-Key selects that tenant's rows.
        using (var request = new HttpRequestMessage(HttpMethod.Get, "/v1/ops/metrics/summary?limit=100") { Headers = { { "X-Tenant-Key", "acme" } } })
        using (var response = await admin.SendAsync(request))
        {
            var selected = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("data").EnumerateArray().ToList();
            Assert.Equal(rows.Count, selected.Count);
            Assert.All(selected, r => Assert.Equal("acme", r.GetProperty("tenant").GetString()));
        }

        using (var request = new HttpRequestMessage(HttpMethod.Get, "/v1/ops/metrics/summary") { Headers = { { "X-Tenant-Key", "not a tenant!" } } })
        using (var response = await admin.SendAsync(request))
        {
            Assert.Equal("tenant_mismatch", (await response.ProblemAsync(403)).GetProperty("code").GetString());
        }

        using var bad = await admin.GetAsync("/v1/ops/metrics/summary?limit=0");
        await bad.ProblemAsync(400);
        using var forbidden = await acme.GetAsync("/v1/ops/metrics/summary");
        await forbidden.ProblemAsync(403);
    }

    private static DateTimeOffset HourOf(DateTimeOffset at) => new(at.UtcDateTime.Year, at.UtcDateTime.Month, at.UtcDateTime.Day, at.UtcDateTime.Hour, 0, 0, TimeSpan.Zero);

    private static double P95(IEnumerable<long> values)
    {
        var sorted = values.Order().ToArray();
        return sorted[(int)Math.Ceiling(sorted.Length * 0.95) - 1];
    }
}
