using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Sluice.Testing;

namespace Sluice.Server.FunctionalTests;

/// <summary>Generations across admission limits, dropped clients and stopping nodes.</summary>
public sealed class GenerationLifecycleTests
{
    private const string Slow = GenerationApi.EndlessGeneration;

    [Fact]
    public async Task FullNode_Answers503WithRetryAfter_AndStoresNothing()
    {
        await using var server = await SluiceTestServer.StartAsync("memory", new Dictionary<string, string>
        {
            ["Sluice:Limits:MaxConcurrentGenerations"] = "1",
            ["Sluice:Generations:QueueLength"] = "1",
        });
        using var client = server.CreateClient();
        var running = (await client.CreateGenerationAsync(Slow)).GetProperty("id").GetString()!;
        var queued = (await client.CreateGenerationAsync(Slow)).GetProperty("id").GetString()!;

        using var refused = await client.PostJsonAsync("/v1/generations", Slow);

        Assert.Equal("overloaded", (await refused.ProblemAsync(503)).GetProperty("code").GetString());
        Assert.True(refused.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1));
        Assert.Equal(2, (await client.GetJsonAsync("/v1/generations")).GetProperty("data").GetArrayLength());

        // Cancelling the queued one frees its place at once; it ends as cancelled without running.
        using var cancel = await client.PostAsync($"/v1/generations/{queued}/cancel", null);
        Assert.Equal(HttpStatusCode.Accepted, cancel.StatusCode);
        var items = await client.ReadEventsAsync(queued);
        Assert.Equal("cancelled", JsonDocument.Parse(Assert.Single(items).Data).RootElement.GetProperty("finish_reason").GetString());
        await client.CreateGenerationAsync(Slow);
        using var stop = await client.PostAsync($"/v1/generations/{running}/cancel", null);
        Assert.Equal(HttpStatusCode.Accepted, stop.StatusCode);
    }

    [Fact]
    public async Task Drain_RefusesNewGenerations_AndLetsRunningOnesFinish()
    {
        await using var server = await SluiceTestServer.StartAsync("memory");
        using var client = server.CreateClient();
        var running = (await client.CreateGenerationAsync(
            """{"model":"simulated/default","messages":[{"role":"user","content":"x"}],"simulate":{"output_tokens":40,"tokens_per_second":80}}""")).GetProperty("id").GetString()!;
        await using (var sse = await SseClient.ConnectAsync(client, $"/v1/generations/{running}/events"))
        {
            Assert.Equal("token", (await sse.NextAsync())?.EventType);
        }

        using var drain = await client.PostAsync("/v1/admin/drain", null);
        Assert.Equal(HttpStatusCode.Accepted, drain.StatusCode);
        using var refused = await client.PostJsonAsync("/v1/generations", Slow);

        Assert.Equal("overloaded", (await refused.ProblemAsync(503)).GetProperty("code").GetString());
        Assert.NotNull(refused.Headers.RetryAfter);
        // SSE is refused while draining; wait on the node's own run instead.
        var generations = server.App.Services.GetRequiredService<Sluice.Generations.GenerationService>();
        await generations.WaitAsync("default", running, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(60));
        var record = await client.GetJsonAsync($"/v1/generations/{running}");
        Assert.Equal("succeeded", record.GetProperty("status").GetString());
        Assert.Equal(40, record.GetProperty("usage").GetProperty("output_tokens").GetInt64());
    }

    [Fact]
    public async Task ClientThatDisconnects_DoesNotCancelTheGeneration()
    {
        await using var server = await SluiceTestServer.StartAsync("memory");
        using var client = server.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/generations")
        {
            Content = new StringContent("""{"model":"simulated/default","messages":[{"role":"user","content":"x"}],"simulate":{"output_tokens":30,"tokens_per_second":100}}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Accept.ParseAdd("text/event-stream");
        string id;
        using (var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead))
        {
            id = response.Headers.GetValues("X-Sluice-Generation-Id").Single();
            await using var body = await response.Content.ReadAsStreamAsync();
            await foreach (var item in System.Net.ServerSentEvents.SseParser.Create(body).EnumerateAsync())
            {
                if (item.EventType == "token")
                {
                    break; // and drop the connection
                }
            }
        }

        var record = await client.WaitFinishedAsync(id);

        Assert.Equal("succeeded", record.GetProperty("status").GetString());
        Assert.Equal(30, (await client.ReadEventsAsync(id)).Count(i => i.EventType == "token"));
    }

    [Fact]
    public async Task NodeStoppingPastTheGrace_EndsRunningGenerationsWithWorkerLost()
    {
        var dataDir = Directory.CreateTempSubdirectory("sluice-grace-").FullName;
        string id;
        await using (var server = await SluiceTestServer.StartAsync(settings: new Dictionary<string, string> { ["Sluice:Generations:ShutdownGrace"] = "00:00:00.200" }, dataDir: dataDir))
        {
            using var client = server.CreateClient();
            id = (await client.CreateGenerationAsync(Slow)).GetProperty("id").GetString()!;
            await using var sse = await SseClient.ConnectAsync(client, $"/v1/generations/{id}/events");
            Assert.Equal("token", (await sse.NextAsync())?.EventType);
        }

        await using var again = await SluiceTestServer.StartAsync(dataDir: dataDir);
        using var reader = again.CreateClient();
        var items = await reader.ReadEventsAsync(id);
        var error = JsonDocument.Parse(items[^1].Data).RootElement;
        Assert.Equal("error", items[^1].EventType);
        Assert.Equal("worker_lost", error.GetProperty("code").GetString());
        Assert.True(error.GetProperty("retryable").GetBoolean());
        Assert.DoesNotContain(items, i => i.EventType == "done");
        var record = await reader.GetJsonAsync($"/v1/generations/{id}");
        Assert.Equal("failed", record.GetProperty("status").GetString());
        Assert.Equal("worker_lost", record.GetProperty("error").GetProperty("code").GetString());
    }
}
