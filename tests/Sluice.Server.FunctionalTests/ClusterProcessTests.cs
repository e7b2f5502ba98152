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

    /// <summary>The record once final: it is written a moment after the terminal event a follower already saw.</summary>
    private static Task<JsonElement> FinalRecordAsync(HttpClient node, string id) =>
        Eventually.ValueAsync(async () => await node.GetJsonAsync($"/v1/generations/{id}"), r => r.GetProperty("status").GetString() is "succeeded" or "failed" or "cancelled");

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
            var record = await FinalRecordAsync(onC, id);
            Assert.Equal("failed", record.GetProperty("status").GetString());
            Assert.Equal("worker_lost", record.GetProperty("error").GetProperty("code").GetString());
            var endedAfter = record.GetProperty("completed_at").GetDateTimeOffset() - killedAt;
            Assert.True(endedAfter <= ReapBound, $"ended {endedAfter} after the kill; the bound is {ReapBound}");
        }

        foreach (var id in survivors)
        {
            Assert.Equal("succeeded", (await FinalRecordAsync(onC, id)).GetProperty("status").GetString());
        }

        Assert.True(await MetricAsync(onB, "sluice_generations_reaped_total") + await MetricAsync(onC, "sluice_generations_reaped_total") >= orphans.Count);
    }

    [Fact]
    public async Task ThreeNodesBehindNginx_SubscribersReconnectingEveryFewSeconds_GetEveryEventOnceInOrder_WritersOnThreeNodesGetDenseIds()
    {
        await using var redis = await RedisServer.StartAsync("--appendfsync", "everysec");
        using var a = await StartNodeAsync(redis, "node-a");
        using var b = await StartNodeAsync(redis, "node-b");
        using var c = await StartNodeAsync(redis, "node-c");
        await using var nginx = await DeployTests.NginxProxy.StartClusterAsync([a.BaseAddress, b.BaseAddress, c.BaseAddress]);
        HttpClient[] nodes = [a.CreateClient(), b.CreateClient(), c.CreateClient()];
        using var proxied = new HttpClient { BaseAddress = nginx.BaseAddress, Timeout = TimeSpan.FromMinutes(2) };
        proxied.DefaultRequestHeaders.Authorization = new("Bearer", SluiceTestServer.AdminKey);
        await nodes[0].PublishAsync("crowd", "token", new { n = 0 });
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));

        // 50 subscribers through nginx, each dropping its connection after 1-3 s and resuming with Last-Event-ID. The
        // first connection also drops after 20-200 events, so every subscriber resumes at least once however fast the
        // writers are; each remembers which node served each of its connections.
        var subscribers = Enumerable.Range(0, 50).Select(s => Task.Run(async () =>
        {
            var random = new Random(s);
            var ids = new List<long>();
            var servedBy = new List<string>();
            var firstDropAfter = random.Next(20, 200);
            while (!timeout.IsCancellationRequested)
            {
                using var drop = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token);
                drop.CancelAfter(TimeSpan.FromMilliseconds(random.Next(1000, 3000)));
                try
                {
                    await using var sse = await SseClient.ConnectAsync(proxied, "/v1/streams/crowd/events", ids.Count == 0 ? null : ids[^1].ToString(CultureInfo.InvariantCulture), drop.Token);
                    servedBy.Add(sse.Response.Headers.GetValues("X-Sluice-Node").Single());
                    var first = servedBy.Count == 1;
                    await foreach (var item in sse.ReadAllAsync(drop.Token))
                    {
                        if (item.EventId is null)
                        {
                            continue;
                        }

                        ids.Add(long.Parse(item.EventId, CultureInfo.InvariantCulture));
                        if (item.EventType == "done")
                        {
                            return (ids, servedBy);
                        }

                        if (first && ids.Count == firstDropAfter)
                        {
                            break;
                        }
                    }
                }
                catch (Exception ex) when (ex is OperationCanceledException or IOException or HttpRequestException && !timeout.IsCancellationRequested)
                {
                    // Dropped on purpose (or by the proxy): resume.
                }
            }

            throw new TimeoutException($"subscriber {s} saw {ids.Count} events");
        })).ToList();

        // Six writers, two on each node, straight to the nodes: 5,000 events on the one stream.
        var acknowledged = await Task.WhenAll(Enumerable.Range(0, 6).Select(w => Task.Run(async () =>
        {
            var ids = new List<long>();
            for (var i = 0; i < 5000 / 6 + (w < 5000 % 6 ? 1 : 0); i++)
            {
                ids.AddRange(await nodes[w % 3].PublishAsync("crowd", "token", new { w, i }, timeout.Token));
            }

            return ids;
        })));
        var last = (await nodes[1].PublishAsync("crowd", "done"))[0];
        var results = await Task.WhenAll(subscribers);

        Assert.Equal(Enumerable.Range(2, 5000).Select(i => (long)i), acknowledged.SelectMany(x => x).Order());
        Assert.Equal(5002, last);
        foreach (var (ids, servedBy) in results)
        {
            Assert.Equal(Enumerable.Range(1, 5002).Select(i => (long)i), ids);
        }

        // Round-robin over 3 nodes sends a resume elsewhere than the connection before it about 2 times in 3, whatever the
        // timing; a quarter is far below that for the hundred-odd resumes here, and far above a balancer pinning clients.
        var resumes = results.Sum(r => r.servedBy.Count - 1);
        var moved = results.Sum(r => r.servedBy.Zip(r.servedBy.Skip(1)).Count(p => p.First != p.Second));
        Assert.True(resumes >= 50, $"every subscriber resumed at least once ({resumes} resumes)");
        Assert.True(moved * 4 >= resumes, $"round-robin spread the resumes over the nodes ({moved} of {resumes} moved)");
        Assert.Equal(3, results.SelectMany(r => r.servedBy).Distinct(StringComparer.Ordinal).Count());
        foreach (var node in nodes)
        {
            node.Dispose();
        }
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
        Assert.Equal("succeeded", (await FinalRecordAsync(onB, id)).GetProperty("status").GetString());
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

    /// <summary>Polls <paramref name="taken"/> until it holds; asserts that took at most <paramref name="bound"/> (the contract's bound).</summary>
    private static async Task WithinAsync(TimeSpan bound, string what, Func<Task<bool>> taken)
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        while (!await taken())
        {
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30), what + " never took effect");
            await Task.Delay(20);
        }

        Assert.True(watch.Elapsed <= bound, $"{what} took {watch.Elapsed} (bound {bound})");
    }

    private static async Task<HttpResponseMessage> OpsPostAsync(HttpClient client, string path, string json)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(json, System.Text.Encoding.UTF8, "application/json") };
        request.Headers.Add("Idempotency-Key", Guid.NewGuid().ToString("N"));
        return await client.SendAsync(request);
    }

    /// <summary>Opens an SSE response on <paramref name="node"/> and returns a task that completes when the server ends it.</summary>
    private static async Task<Task<List<SseItem<string>>>> OpenAsync(HttpClient node, string path)
    {
        var sse = await SseClient.ConnectAsync(node, path);
        return Task.Run(async () =>
        {
            await using var _ = sse;
            var items = new List<SseItem<string>>();
            try
            {
                await foreach (var item in sse.ReadAllAsync())
                {
                    items.Add(item);
                }
            }
            catch (Exception ex) when (ex is IOException or HttpRequestException)
            {
            }

            return items;
        });
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task LeversIssuedOnOneNode_TakeEffectOnTheOthers_WithinTwoSeconds_OrFiveWhenTheirSubscriptionWasCut(bool cutSubscriptions)
    {
        await using var redis = await RedisServer.StartAsync();
        using var a = await StartNodeAsync(redis, "node-a");
        using var b = await StartNodeAsync(redis, "node-b");
        using var c = await StartNodeAsync(redis, "node-c");
        using var onA = a.CreateClient();
        using var onB = b.CreateClient();
        using var onC = c.CreateClient();
        var bound = cutSubscriptions ? TimeSpan.FromSeconds(5) : TimeSpan.FromSeconds(2);

        var (secret, keyId) = await onA.CreateKeyAsync("acme", "publish", "subscribe");
        using var keyOnB = b.CreateClient(secret);
        using var keyOnC = c.CreateClient(secret);
        await keyOnB.PublishAsync("levers", "token", new { n = 1 });
        await onA.PublishAsync("other", "token", new { n = 1 });
        var revokedStream = await OpenAsync(keyOnC, "/v1/streams/levers/events");
        var broadcastOnB = await OpenAsync(onB, "/v1/streams/other/events");
        var broadcastOnC = await OpenAsync(onC, "/v1/streams/other/events");

        if (cutSubscriptions)
        {
            // Every node's pub/sub connection is cut as the changes are made: the announcements are lost to them.
            await redis.CommandAsync("CLIENT KILL TYPE pubsub");
        }

        await Api.EnsureAsync(await onA.DeleteAsync($"/v1/admin/keys/{keyId}"), 204);
        await WithinAsync(bound, "revocation on node-b", async () =>
        {
            using var response = await keyOnB.GetAsync("/v1/streams/levers");
            return response.StatusCode == System.Net.HttpStatusCode.Unauthorized;
        });
        await WithinAsync(bound, "revocation of node-c's open response", () => Task.FromResult(revokedStream.IsCompleted));
        Assert.Equal("credential_revoked", Code((await revokedStream).Last(i => i.EventType == "error")));

        await Api.EnsureAsync(await OpsPostAsync(onA, "/v1/ops/llm/providers/simulated/kill-switch", """{"action":"enable","effective_seconds":600}"""), 200);
        await WithinAsync(bound, "kill-switch on node-c", async () => (await onC.ProviderHealthAsync("simulated")).GetProperty("state").GetString() == "killed");

        await Api.EnsureAsync(await onA.PostJsonAsync("/v1/admin/rate-limit/emergency", """{"requests_per_minute":6000,"burst":100}"""), 200);
        await WithinAsync(bound, "emergency rate limit on node-b", async () => (await onB.GetJsonAsync("/v1/admin/rate-limit/emergency")).GetProperty("active").GetBoolean());

        await Api.EnsureAsync(await onA.PostJsonAsync("/v1/admin/circuit-breaker", """{"endpoints":["/v1/prompts"],"action":"enable"}"""), 200);
        await WithinAsync(bound, "shedding on node-c", async () =>
        {
            using var response = await onC.GetAsync("/v1/prompts/p");
            return response.StatusCode == System.Net.HttpStatusCode.ServiceUnavailable;
        });

        using (var limits = new HttpRequestMessage(HttpMethod.Put, "/v1/admin/limits") { Content = new StringContent("""{"max_streams_per_tenant":77}""", System.Text.Encoding.UTF8, "application/json") })
        {
            await Api.EnsureAsync(await onA.SendAsync(limits), 200);
        }

        await WithinAsync(bound, "runtime limits on node-b", async () => (await onB.GetJsonAsync("/v1/admin/limits")).GetProperty("max_streams_per_tenant").GetInt32() == 77);

        await Api.EnsureAsync(await onA.PostJsonAsync("/v1/admin/sse/broadcast-reconnect", """{"retry_ms":500}"""), 202);
        await WithinAsync(bound, "broadcast-reconnect on node-b and node-c", () => Task.FromResult(broadcastOnB.IsCompleted && broadcastOnC.IsCompleted));

        // A lever lifted on another node comes back everywhere too.
        await Api.EnsureAsync(await onB.DeleteAsync("/v1/admin/rate-limit/emergency"), 200);
        await WithinAsync(bound, "the lifted emergency limit on node-a", async () => !(await onA.GetJsonAsync("/v1/admin/rate-limit/emergency")).GetProperty("active").GetBoolean());
    }

    [Fact]
    public async Task TheEmergencyRateLimit_IsOneBudgetForTheCluster_NotOnePerNode()
    {
        await using var redis = await RedisServer.StartAsync();
        using var a = await StartNodeAsync(redis, "node-a");
        using var b = await StartNodeAsync(redis, "node-b");
        using var c = await StartNodeAsync(redis, "node-c");
        using var admin = a.CreateClient();
        var (secret, _) = await admin.CreateKeyAsync("acme", "publish", "subscribe");
        HttpClient[] tenant = [a.CreateClient(secret), b.CreateClient(secret), c.CreateClient(secret)];
        const int PerMinute = 60;
        const int Burst = 20;
        await Api.EnsureAsync(await admin.PostJsonAsync("/v1/admin/rate-limit/emergency", $$"""{"requests_per_minute":{{PerMinute}},"burst":{{Burst}}}"""), 200);
        using var adminOnB = b.CreateClient();
        using var adminOnC = c.CreateClient();
        foreach (var node in new[] { adminOnB, adminOnC })
        {
            await WithinAsync(TimeSpan.FromSeconds(2), "the emergency limit", async () => (await node.GetJsonAsync("/v1/admin/rate-limit/emergency")).GetProperty("active").GetBoolean());
        }

        var watch = System.Diagnostics.Stopwatch.StartNew();
        var admitted = 0;
        var refused = 0;
        for (var i = 0; i < 150; i++)
        {
            using var response = await tenant[i % 3].GetAsync("/v1/streams/budget");
            if ((int)response.StatusCode == 429)
            {
                refused++;
                Assert.True(response.Headers.RetryAfter is not null);
            }
            else
            {
                admitted++;
            }
        }

        // The budget over the run: the burst, plus one a second for the time it took. Per node, it would be 3x the burst.
        var budget = Burst + (int)Math.Ceiling(watch.Elapsed.TotalSeconds * PerMinute / 60.0);
        Assert.InRange(admitted, Burst, budget + 1);
        Assert.Equal(150, admitted + refused);
        Assert.True(admitted < 3 * Burst, $"{admitted} admitted across three nodes");
        foreach (var client in tenant)
        {
            client.Dispose();
        }
    }

    [Fact]
    public async Task AGenerationCancelledThroughAnotherNode_IsCancelledByItsOwner()
    {
        await using var redis = await RedisServer.StartAsync();
        using var a = await StartNodeAsync(redis, "node-a");
        using var b = await StartNodeAsync(redis, "node-b");
        using var onA = a.CreateClient();
        using var onB = b.CreateClient();
        var id = (await onA.CreateGenerationAsync(LongGeneration)).GetProperty("id").GetString()!;
        await WaitOutputAsync(onB, id, 3);

        using var cancel = await onB.PostAsync($"/v1/generations/{id}/cancel", null);
        await Api.EnsureAsync(cancel, 202);
        var items = await FollowAsync([onB], id, new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token);

        AssertDense(items);
        Assert.Equal("done", items[^1].EventType);
        Assert.Equal("cancelled", JsonDocument.Parse(items[^1].Data).RootElement.GetProperty("finish_reason").GetString());
        Assert.Equal("cancelled", (await FinalRecordAsync(onB, id)).GetProperty("status").GetString());
    }

    private static async Task<double> MetricAsync(HttpClient client, string name)
    {
        var text = await client.GetStringAsync("/metrics");
        var line = text.Split('\n').FirstOrDefault(l => l.StartsWith(name + " ", StringComparison.Ordinal) || l.StartsWith(name + "{", StringComparison.Ordinal));
        return line is null ? 0 : double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture);
    }
}
