using System.Collections.Concurrent;
using System.Globalization;
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
}
