using System.Collections.Concurrent;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Sluice.Testing;

namespace Sluice.Server.FunctionalTests;

/// <summary>Sluice as a process on <c>Sluice:Store=redis</c>, against a real redis-server this test starts and kills.</summary>
public sealed class RedisProcessTests
{
    private static string[] OnRedis(RedisServer redis) => ["--Sluice:Store", "redis", "--Sluice:Redis", redis.ConnectionString];

    [Fact]
    public async Task RedisThatMayEvict_StartFailsWithOneLineNamingMaxmemoryPolicy()
    {
        await using var redis = await RedisServer.StartAsync("--maxmemory-policy", "allkeys-lru");

        var (exitCode, output) = await SluiceProcess.RunToExitAsync(Directory.CreateTempSubdirectory("sluice-lru-").FullName, OnRedis(redis));

        Assert.NotEqual(0, exitCode);
        var lines = output.Split('\n').Where(l => l.Contains("maxmemory-policy", StringComparison.Ordinal)).ToList();
        var line = Assert.Single(lines);
        Assert.Contains("allkeys-lru", line, StringComparison.Ordinal);
        Assert.Contains("noeviction", line, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);
    }

    private static async Task<double> MetricAsync(HttpClient client, string name)
    {
        var text = await client.GetStringAsync("/metrics");
        var line = text.Split('\n').Single(l => l.StartsWith(name + " ", StringComparison.Ordinal) || l.StartsWith(name + "{", StringComparison.Ordinal));
        return double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture);
    }

    [Fact]
    public async Task KillSluiceDuring32Publishers_Restart_EveryAcknowledgedEventIsThereOnceAndIdsAreDense()
    {
        await using var redis = await RedisServer.StartAsync("--appendfsync", "everysec");
        var dataDir = Directory.CreateTempSubdirectory("sluice-redis-kill-").FullName;
        var acknowledged = new ConcurrentDictionary<long, string>();
        using (var first = await SluiceProcess.StartAsync(dataDir, SluiceTestServer.AdminKey, OnRedis(redis)))
        {
            using var client = first.CreateClient();
            using var stop = new CancellationTokenSource();
            var enough = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var publishers = Enumerable.Range(0, 32).Select(p => Task.Run(async () =>
            {
                for (var i = 0; !stop.IsCancellationRequested; i++)
                {
                    var marker = $"p{p}-{i}";
                    try
                    {
                        var ids = await client.PublishAsync("durable", "token", new { marker }, stop.Token);
                        acknowledged[ids[0]] = marker;
                        if (acknowledged.Count >= 3000)
                        {
                            enough.TrySetResult();
                        }
                    }
                    catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or IOException)
                    {
                        return;
                    }
                }
            })).ToArray();

            await enough.Task.WaitAsync(TimeSpan.FromSeconds(120));
            first.Kill();
            await stop.CancelAsync();
            await Task.WhenAll(publishers);
        }

        using var second = await SluiceProcess.StartAsync(dataDir, SluiceTestServer.AdminKey, OnRedis(redis));
        using var again = second.CreateClient();
        var lastId = (await again.GetJsonAsync("/v1/streams/durable")).GetProperty("last_id").GetInt64();
        var next = await again.PublishAsync("durable", "token", new { marker = "after-restart" });
        await again.PublishAsync("durable", "done");
        await using var sse = await SseClient.ConnectAsync(again, "/v1/streams/durable/events");
        var byId = (await sse.ReadAllAsync().ToListAsync()).ToDictionary(
            i => long.Parse(i.EventId!, CultureInfo.InvariantCulture),
            i => JsonDocument.Parse(i.Data).RootElement.TryGetProperty("marker", out var m) ? m.GetString() : null);

        Assert.True(acknowledged.Count >= 3000);
        foreach (var (id, marker) in acknowledged)
        {
            Assert.Equal(marker, byId[id]);
        }

        Assert.Equal(byId.Count, byId.Values.Distinct().Count());
        Assert.Equal(Enumerable.Range(1, (int)lastId + 2).Select(i => (long)i), byId.Keys.Order());
        Assert.Equal([lastId + 1], next);
    }

    [Fact]
    public async Task KillRedisDuringPublishingAndSubscribing_AppendfsyncAlways_NothingAcknowledgedLost_SubscribersStayOpen_NoIdReused()
    {
        await using var redis = await RedisServer.StartAsync("--appendfsync", "always");
        using var sluice = await SluiceProcess.StartAsync(Directory.CreateTempSubdirectory("sluice-redis-outage-").FullName, SluiceTestServer.AdminKey,
            [.. OnRedis(redis), "--Sluice:Heartbeat", "00:00:00.500"]);
        using var client = sluice.CreateClient();
        await client.PublishAsync("outage", "token", new { marker = "first" });

        // Four subscribers, each one response from start to end: a reconnect would show as a second id 1 or a gap.
        var subscribers = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => SseClient.ConnectAsync(sluice.CreateClient(), "/v1/streams/outage/events")));
        var heartbeatsDuringOutage = new int[subscribers.Length];
        var outage = 0;
        var reading = subscribers.Select((sse, n) => Task.Run(async () =>
        {
            var seen = new List<(long Id, string Type, string Data)>();
            await foreach (var item in sse.ReadAllAsync())
            {
                if (item.EventId is null)
                {
                    if (item.EventType == "heartbeat" && Volatile.Read(ref outage) == 1)
                    {
                        Interlocked.Increment(ref heartbeatsDuringOutage[n]);
                    }

                    continue;
                }

                seen.Add((long.Parse(item.EventId, CultureInfo.InvariantCulture), item.EventType, item.Data));
            }

            return seen;
        })).ToArray();

        var acknowledged = new ConcurrentDictionary<long, string>();
        var reused = 0;
        var refused = 0;
        var afterRestart = 0;
        using var stop = new CancellationTokenSource();
        var before = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var during = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var after = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var publishers = Enumerable.Range(0, 8).Select(p => Task.Run(async () =>
        {
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                var marker = $"p{p}-{i}";
                using var response = await client.PostAsJsonAsync("/v1/streams/outage/events", new { type = "token", data = new { marker } }, CancellationToken.None);
                if (response.StatusCode == System.Net.HttpStatusCode.ServiceUnavailable)
                {
                    Assert.Equal("store_unavailable", (await response.ProblemAsync(503)).GetProperty("code").GetString());
                    Assert.NotNull(response.Headers.RetryAfter);
                    Interlocked.Increment(ref refused);
                    during.TrySetResult();
                    await Task.Delay(50, CancellationToken.None); // a client honouring Retry-After, shortened
                    continue;
                }

                await Api.EnsureAsync(response, 201);
                var id = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("ids")[0].GetInt64();
                if (!acknowledged.TryAdd(id, marker))
                {
                    Interlocked.Increment(ref reused);
                }

                if (acknowledged.Count >= 400)
                {
                    before.TrySetResult();
                }

                if (Volatile.Read(ref outage) == 2 && Interlocked.Increment(ref afterRestart) >= 400)
                {
                    after.TrySetResult();
                }
            }
        })).ToArray();

        await before.Task.WaitAsync(TimeSpan.FromSeconds(60));
        Volatile.Write(ref outage, 1);
        await redis.KillAsync();
        await during.Task.WaitAsync(TimeSpan.FromSeconds(60));
        await Eventually.TrueAsync(() => heartbeatsDuringOutage.All(h => Volatile.Read(ref h) >= 2));
        await Eventually.ValueAsync(() => MetricAsync(client, "sluice_store_up"), v => v == 0);
        Volatile.Write(ref outage, 2);
        await redis.StartAgainAsync();
        await after.Task.WaitAsync(TimeSpan.FromSeconds(60));
        await Eventually.ValueAsync(() => MetricAsync(client, "sluice_store_up"), v => v == 1);
        Assert.True(await MetricAsync(client, "sluice_store_resubscribes_total") >= 1);
        await stop.CancelAsync();
        await Task.WhenAll(publishers);
        var last = (await client.PublishAsync("outage", "done"))[0];

        Assert.True(refused > 0);
        Assert.Equal(0, reused);
        foreach (var seen in await Task.WhenAll(reading))
        {
            Assert.Equal(Enumerable.Range(1, (int)last).Select(i => (long)i), seen.Select(e => e.Id));
            Assert.Equal("done", seen[^1].Type);
            var markers = seen.ToDictionary(e => e.Id, e => e.Data);
            foreach (var (id, marker) in acknowledged)
            {
                Assert.Contains(marker, markers[id], StringComparison.Ordinal);
            }
        }

        foreach (var sse in subscribers)
        {
            await sse.DisposeAsync();
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task KillRedisDuringAGeneration_ItsOutputWaitsAndLands_OrItEndsWorkerLostPastTheLease(bool outlastTheLease)
    {
        await using var redis = await RedisServer.StartAsync("--appendfsync", "always");
        using var sluice = await SluiceProcess.StartAsync(Directory.CreateTempSubdirectory("sluice-redis-gen-").FullName, SluiceTestServer.AdminKey,
            [.. OnRedis(redis), "--Sluice:Heartbeat", "00:00:00.250", "--Sluice:Cluster:LeaseTtl", outlastTheLease ? "00:00:01" : "00:01:00"]);
        using var client = sluice.CreateClient();
        var id = (await client.CreateGenerationAsync("""{"model":"simulated/default","messages":[{"role":"user","content":"x"}],"simulate":{"output_tokens":300,"tokens_per_second":100}}""")).GetProperty("id").GetString()!;
        await using var sse = await SseClient.ConnectAsync(client, $"/v1/generations/{id}/events");

        var items = new List<System.Net.ServerSentEvents.SseItem<string>>();
        var heartbeats = 0;
        var killed = false;
        while (await sse.NextAsync() is { } item)
        {
            if (item.EventId is null)
            {
                // Heartbeats go on through the outage: 2 s of them outlasts a 1 s lease, with the generation running.
                if (killed && item.EventType == "heartbeat" && ++heartbeats == 8)
                {
                    await redis.StartAgainAsync();
                }

                continue;
            }

            items.Add(item);
            if (items.Count == 20)
            {
                await redis.KillAsync();
                killed = true;
            }
        }

        var last = items[^1];
        Assert.Equal(Enumerable.Range(1, items.Count).Select(i => i.ToString(CultureInfo.InvariantCulture)), items.Select(i => i.EventId));
        // The record is written a moment after the terminal event reaches the stream (seen in CI: "running").
        var record = await Eventually.ValueAsync(() => client.GetJsonAsync($"/v1/generations/{id}"),
            r => r.GetProperty("status").GetString() is not ("queued" or "running"));
        if (outlastTheLease)
        {
            Assert.Equal("error", last.EventType);
            Assert.Equal("worker_lost", JsonDocument.Parse(last.Data).RootElement.GetProperty("code").GetString());
            Assert.Equal(("failed", "worker_lost"), (record.GetProperty("status").GetString(), record.GetProperty("error").GetProperty("code").GetString()));
        }
        else
        {
            Assert.Equal("done", last.EventType);
            Assert.Equal(items.Count - 1, JsonDocument.Parse(last.Data).RootElement.GetProperty("usage").GetProperty("output_tokens").GetInt32());
            Assert.Equal("succeeded", record.GetProperty("status").GetString());
        }

        Assert.Equal(items.Count, record.GetProperty("last_event_id").GetInt64());
    }

    [Fact]
    public async Task RedisBackEmpty_AOFDeleted_AffectedStreamsEndWithStoreLostEvents_AndNoIdIsUsedAgain()
    {
        await using var redis = await RedisServer.StartAsync("--appendfsync", "always");
        using var sluice = await SluiceProcess.StartAsync(Directory.CreateTempSubdirectory("sluice-redis-lost-").FullName, SluiceTestServer.AdminKey, OnRedis(redis));
        using var client = sluice.CreateClient();
        for (var i = 0; i < 50; i++)
        {
            await client.PublishAsync("watched", "token", new { n = i });
        }

        for (var i = 0; i < 10; i++)
        {
            await client.PublishAsync("idle", "token", new { n = i });
        }

        await using var sse = await SseClient.ConnectAsync(sluice.CreateClient(), "/v1/streams/watched/events");
        for (var seen = 0; seen < 50;)
        {
            if ((await sse.NextAsync())?.EventId is not null)
            {
                seen++;
            }
        }

        await redis.KillAsync();
        Directory.Delete(Path.Combine(redis.Directory, "appendonlydir"), recursive: true);
        await redis.StartAgainAsync();
        Assert.Equal("0", (await redis.CommandAsync("DBSIZE")).Trim(':', '\r', '\n'));

        // The open response ends with the id-less error once the node has seen Redis come back empty.
        var rest = await sse.ReadAllAsync().Where(i => i.EventType != "heartbeat").ToListAsync();
        var lost = Assert.Single(rest);
        Assert.Equal("error", lost.EventType);
        Assert.Null(lost.EventId);
        Assert.Equal("store_lost_events", JsonDocument.Parse(lost.Data).RootElement.GetProperty("code").GetString());
        Assert.False(JsonDocument.Parse(lost.Data).RootElement.GetProperty("retryable").GetBoolean());

        // No id is handed out again, on either stream: both are closed after the highest id ever acknowledged.
        foreach (var (stream, acknowledged) in new[] { ("watched", 50L), ("idle", 10L) })
        {
            var info = await Eventually.ValueAsync(async () =>
            {
                // 503 store_unavailable until the node has reconnected.
                using var response = await client.GetAsync($"/v1/streams/{stream}");
                return response.IsSuccessStatusCode ? await response.Content.ReadFromJsonAsync<JsonElement>() : default;
            }, i => i.ValueKind == JsonValueKind.Object && i.GetProperty("status").GetString() == "closed");
            Assert.Equal(acknowledged + 1, info.GetProperty("last_id").GetInt64());
            using var publish = await client.PostAsJsonAsync($"/v1/streams/{stream}/events", new { type = "token", data = new { n = "after" } });
            Assert.Equal("stream_closed", (await publish.ProblemAsync(409)).GetProperty("code").GetString());
        }

        // A client resuming from an id it had gets the end, not other events under its ids.
        await using var resumed = await SseClient.ConnectAsync(client, "/v1/streams/watched/events", lastEventId: "50");
        var after = await resumed.ReadAllAsync().Where(i => i.EventType != "heartbeat").ToListAsync();
        Assert.Equal("store_lost_events", JsonDocument.Parse(Assert.Single(after).Data).RootElement.GetProperty("code").GetString());
    }
}
