using System.Globalization;
using System.Net.ServerSentEvents;
using System.Text.Json;
using Sluice.Testing;

namespace Sluice.Server.FunctionalTests;

/// <summary>
/// Several Sluice processes on one real redis-server (API.md section 9): generation leases, the reaper, fencing, and the
/// node registry, with nodes killed (SIGKILL), restarted and frozen (SIGSTOP) by the test.
/// </summary>
public sealed class ClusterProcessTests
{
    /// <summary>Short, so that a test waits seconds for a lease to expire; the bound under test is this + 2 s.</summary>
    private static readonly TimeSpan LeaseTtl = TimeSpan.FromSeconds(3);

    private static readonly TimeSpan ReapBound = LeaseTtl + TimeSpan.FromSeconds(2);

    /// <summary>A generation that runs for about 20 s: long enough to outlive a node.</summary>
    private const string LongGeneration = """{"model":"simulated/default","messages":[{"role":"user","content":"x"}],"simulate":{"output_tokens":400,"tokens_per_second":20}}""";

    /// <summary>A generation that runs for about 4 s.</summary>
    private const string ShortGeneration = """{"model":"simulated/default","messages":[{"role":"user","content":"x"}],"simulate":{"output_tokens":40,"tokens_per_second":10}}""";

    private static Task<SluiceProcess> StartNodeAsync(RedisServer redis, string name) =>
        SluiceProcess.StartAsync(Directory.CreateTempSubdirectory("sluice-node-").FullName, SluiceTestServer.AdminKey,
            "--Sluice:Store", "redis", "--Sluice:Redis", redis.ConnectionString, "--Sluice:NodeId", name,
            "--Sluice:Cluster:LeaseTtl", LeaseTtl.ToString("c", CultureInfo.InvariantCulture), "--Sluice:Heartbeat", "00:00:00.500");

    /// <summary>
    /// Reads a generation's stream as a resuming client does: from the first node, and after each lost connection from the
    /// next node with <c>Last-Event-ID</c>, until its terminal event. Returns every event with an id, in arrival order.
    /// </summary>
    private static async Task<List<SseItem<string>>> FollowAsync(IReadOnlyList<HttpClient> nodes, string id, CancellationToken cancellationToken)
    {
        var items = new List<SseItem<string>>();
        for (var attempt = 0; ; attempt++)
        {
            var node = nodes[attempt % nodes.Count];
            try
            {
                await using var sse = await SseClient.ConnectAsync(node, $"/v1/generations/{id}/events", items.Count == 0 ? null : items[^1].EventId, cancellationToken);
                await foreach (var item in sse.ReadAllAsync(cancellationToken))
                {
                    if (item.EventId is null)
                    {
                        continue;
                    }

                    items.Add(item);
                    if (item.EventType is "done" or "error")
                    {
                        return items;
                    }
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or IOException && !cancellationToken.IsCancellationRequested)
            {
                // The node went away: the next one takes the client.
            }
        }
    }

    /// <summary>Returns once the generation's stream holds <paramref name="count"/> events (read through a peer).</summary>
    private static async Task WaitOutputAsync(HttpClient node, string id, int count)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var sse = await SseClient.ConnectAsync(node, $"/v1/generations/{id}/events", null, timeout.Token);
        var seen = 0;
        await foreach (var item in sse.ReadAllAsync(timeout.Token))
        {
            if (item.EventId is not null && ++seen == count)
            {
                return;
            }
        }
    }

    private static void AssertDense(List<SseItem<string>> items) =>
        Assert.Equal(Enumerable.Range(1, items.Count).Select(i => i.ToString(CultureInfo.InvariantCulture)), items.Select(i => i.EventId));

    private static string Code(SseItem<string> item) => JsonDocument.Parse(item.Data).RootElement.GetProperty("code").GetString()!;

    [Fact]
    public async Task KillANodeRunningGenerations_ItsOrphansEndWorkerLostWithinTheBound_FollowersResumeElsewhere_PeersFinish()
    {
        await using var redis = await RedisServer.StartAsync("--appendfsync", "everysec");
        using var a = await StartNodeAsync(redis, "node-a");
        using var b = await StartNodeAsync(redis, "node-b");
        using var c = await StartNodeAsync(redis, "node-c");
        using var onA = a.CreateClient();
        using var onB = b.CreateClient();
        using var onC = c.CreateClient();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));

        var orphans = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            orphans.Add((await onA.CreateGenerationAsync(LongGeneration)).GetProperty("id").GetString()!);
        }

        var survivors = new List<string>();
        for (var i = 0; i < 2; i++)
        {
            survivors.Add((await onB.CreateGenerationAsync(ShortGeneration)).GetProperty("id").GetString()!);
        }

        // Each orphan has two followers that start on the doomed node, and one on a peer.
        var followers = orphans.SelectMany(id => new[]
        {
            (Id: id, Task: FollowAsync([onA, onB, onC], id, timeout.Token)),
            (Id: id, Task: FollowAsync([onA, onC, onB], id, timeout.Token)),
            (Id: id, Task: FollowAsync([onC, onB], id, timeout.Token)),
        }).Concat(survivors.Select(id => (Id: id, Task: FollowAsync([onA, onC], id, timeout.Token)))).ToList();

        // Kill once every orphan has streamed some output.
        foreach (var id in orphans)
        {
            await WaitOutputAsync(onB, id, 5);
        }

        var killedAt = DateTimeOffset.UtcNow;
        a.Kill();

        foreach (var (id, follow) in followers)
        {
            var items = await follow;
            AssertDense(items);
            if (orphans.Contains(id))
            {
                Assert.Equal("error", items[^1].EventType);
                Assert.Equal("worker_lost", Code(items[^1]));
                Assert.True(JsonDocument.Parse(items[^1].Data).RootElement.GetProperty("retryable").GetBoolean());
            }
            else
            {
                Assert.Equal("done", items[^1].EventType);
            }
        }

        foreach (var id in orphans)
        {
            var record = await onC.GetJsonAsync($"/v1/generations/{id}");
            Assert.Equal("failed", record.GetProperty("status").GetString());
            Assert.Equal("worker_lost", record.GetProperty("error").GetProperty("code").GetString());
            var endedAfter = record.GetProperty("completed_at").GetDateTimeOffset() - killedAt;
            Assert.True(endedAfter <= ReapBound, $"ended {endedAfter} after the kill; the bound is {ReapBound}");
        }

        foreach (var id in survivors)
        {
            Assert.Equal("succeeded", (await onC.WaitFinishedAsync(id)).GetProperty("status").GetString());
        }

        Assert.True(await MetricAsync(onB, "sluice_generations_reaped_total") + await MetricAsync(onC, "sluice_generations_reaped_total") >= orphans.Count);
    }

    [Fact]
    public async Task ANodeRestartedWhileAPeersGenerationRuns_LeavesItRunning_ItCompletes()
    {
        await using var redis = await RedisServer.StartAsync();
        using var a = await StartNodeAsync(redis, "node-a");
        var b = await StartNodeAsync(redis, "node-b");
        using var onA = a.CreateClient();
        var id = (await onA.CreateGenerationAsync("""{"model":"simulated/default","messages":[{"role":"user","content":"x"}],"simulate":{"output_tokens":200,"tokens_per_second":20}}""")).GetProperty("id").GetString()!;
        await Eventually.ValueAsync(async () => (await onA.GetJsonAsync($"/v1/generations/{id}")).GetProperty("status").GetString(), s => s == "running");

        b.Terminate();
        Assert.True(b.WaitForExit(TimeSpan.FromSeconds(30)));
        b.Dispose();
        using var restarted = await StartNodeAsync(redis, "node-b");
        using var onB = restarted.CreateClient();
        var items = await FollowAsync([onB], id, new CancellationTokenSource(TimeSpan.FromSeconds(120)).Token);

        AssertDense(items);
        Assert.Equal("done", items[^1].EventType);
        Assert.Equal("succeeded", (await onB.GetJsonAsync($"/v1/generations/{id}")).GetProperty("status").GetString());
        Assert.Equal(0, await MetricAsync(onB, "sluice_generations_reaped_total"));
    }

    [Fact]
    public async Task AnOwnerFrozenPastItsLease_IsReaped_AndWhenItThawsItsLateAppendsAreRefused()
    {
        await using var redis = await RedisServer.StartAsync();
        using var a = await StartNodeAsync(redis, "node-a");
        using var b = await StartNodeAsync(redis, "node-b");
        using var onA = a.CreateClient();
        using var onB = b.CreateClient();
        var id = (await onA.CreateGenerationAsync(LongGeneration)).GetProperty("id").GetString()!;
        await WaitOutputAsync(onB, id, 5);

        a.Pause();
        try
        {
            var ended = await Eventually.ValueAsync(async () => await onB.GetJsonAsync($"/v1/generations/{id}"), r => r.GetProperty("status").GetString() == "failed");
            Assert.Equal("worker_lost", ended.GetProperty("error").GetProperty("code").GetString());
        }
        finally
        {
            a.Resume();
        }

        // Thawed, the old owner goes on producing until its appends (the terminal one at the latest) are refused.
        await Eventually.TrueAsync(() => a.Output.Contains("its lease was taken over by another node, which ended it", StringComparison.Ordinal));
        var events = (await onB.ReadEventsAsync(id)).Where(i => i.EventId is not null).ToList();
        // Resuming after the terminal event: a closed stream with nothing after it answers 204 (API.md section 3).
        using var resume = new HttpRequestMessage(HttpMethod.Get, $"/v1/generations/{id}/events");
        resume.Headers.Accept.ParseAdd("text/event-stream");
        resume.Headers.TryAddWithoutValidation("Last-Event-ID", events[^1].EventId);
        using var afterTheEnd = await onA.SendAsync(resume);

        AssertDense(events);
        Assert.Equal(System.Net.HttpStatusCode.NoContent, afterTheEnd.StatusCode);
        Assert.Equal("error", events[^1].EventType);
        Assert.Equal("worker_lost", Code(events[^1]));
        var record = await onA.GetJsonAsync($"/v1/generations/{id}");
        Assert.Equal(("failed", "worker_lost"), (record.GetProperty("status").GetString(), record.GetProperty("error").GetProperty("code").GetString()));
        Assert.True(await MetricAsync(onA, "sluice_lease_renew_failures_total") >= 1);
    }

    [Fact]
    public async Task EveryNodeListsTheCluster_WithItsOwnAddress_AndNamesItselfOnEveryResponse()
    {
        await using var redis = await RedisServer.StartAsync();
        using var a = await StartNodeAsync(redis, "node-a");
        using var b = await StartNodeAsync(redis, "node-b");
        var c = await StartNodeAsync(redis, "node-c");
        using var onA = a.CreateClient();
        using var onB = b.CreateClient();

        var nodes = await Eventually.ValueAsync(async () => await onA.GetJsonAsync("/v1/admin/nodes"), n => n.GetProperty("nodes").GetArrayLength() == 3);
        var listed = nodes.GetProperty("nodes").EnumerateArray().ToDictionary(n => n.GetProperty("id").GetString()!, n => n.GetProperty("address").GetString());
        using var health = await onB.GetAsync("/health/live");
        using var missing = await onB.GetAsync("/v1/nope");

        Assert.Equal("node-a", nodes.GetProperty("self").GetString());
        Assert.Equal(a.BaseAddress.ToString().TrimEnd('/'), listed["node-a"]);
        Assert.Equal(c.BaseAddress.ToString().TrimEnd('/'), listed["node-c"]);
        Assert.Equal("node-b", Assert.Single(health.Headers.GetValues("X-Sluice-Node")));
        Assert.Equal("node-b", Assert.Single(missing.Headers.GetValues("X-Sluice-Node")));
        Assert.Equal(3, await MetricAsync(onA, "sluice_cluster_nodes"));

        c.Kill();
        c.Dispose();
        await Eventually.ValueAsync(async () => await onB.GetJsonAsync("/v1/admin/nodes"), n => n.GetProperty("nodes").GetArrayLength() == 2);
        await Eventually.ValueAsync(async () => await MetricAsync(onB, "sluice_cluster_nodes"), v => v == 2);
    }

    private static async Task<double> MetricAsync(HttpClient client, string name)
    {
        var text = await client.GetStringAsync("/metrics");
        var line = text.Split('\n').FirstOrDefault(l => l.StartsWith(name + " ", StringComparison.Ordinal) || l.StartsWith(name + "{", StringComparison.Ordinal));
        return line is null ? 0 : double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture);
    }
}
