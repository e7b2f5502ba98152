using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;

using Sluice.Testing;

namespace Sluice.Server.FunctionalTests;

/// <summary>Sluice as a separate process, killed with SIGKILL and started again on the same data directory.</summary>
public sealed partial class ProcessTests
{
    [Fact]
    public async Task KillDuringPublishing_Restart_EveryAcknowledgedEventIsThereOnceAndIdsContinue()
    {
        var dataDir = Directory.CreateTempSubdirectory("sluice-kill-").FullName;
        var acknowledged = new ConcurrentDictionary<long, string>();

        using (var first = await SluiceProcess.StartAsync(dataDir))
        {
            using var client = first.CreateClient();
            using var stop = new CancellationTokenSource();
            var publishers = Enumerable.Range(0, 8).Select(p => Task.Run(async () =>
            {
                for (var i = 0; !stop.IsCancellationRequested; i++)
                {
                    var marker = $"p{p}-{i}";
                    try
                    {
                        var ids = await client.PublishAsync("durable", "token", new { marker }, stop.Token);
                        acknowledged[ids[0]] = marker;
                    }
                    catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or IOException)
                    {
                        return;
                    }
                }
            })).ToArray();

            while (acknowledged.Count < 3000)
            {
                await Task.Delay(10);
            }

            first.Kill();
            await stop.CancelAsync();
            await Task.WhenAll(publishers);
        }

        using var second = await SluiceProcess.StartAsync(dataDir);
        using var again = second.CreateClient();
        var info = await again.GetJsonAsync("/v1/streams/durable");
        var lastId = info.GetProperty("last_id").GetInt64();
        var next = await again.PublishAsync("durable", "token", new { marker = "after-restart" });
        await again.PublishAsync("durable", "done");

        await using var sse = await SseClient.ConnectAsync(again, "/v1/streams/durable/events");
        var items = await sse.ReadAllAsync().ToListAsync();
        var byId = items.ToDictionary(i => long.Parse(i.EventId!, System.Globalization.CultureInfo.InvariantCulture),
            i => JsonDocument.Parse(i.Data).RootElement.TryGetProperty("marker", out var m) ? m.GetString() : null);
        var resumeAt = lastId / 2;
        await using var resumed = await SseClient.ConnectAsync(again, "/v1/streams/durable/events", resumeAt.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var resumedIds = await resumed.ReadAllAsync().Select(i => long.Parse(i.EventId!, System.Globalization.CultureInfo.InvariantCulture)).ToListAsync();

        Assert.True(acknowledged.Count >= 3000);
        foreach (var (id, marker) in acknowledged)
        {
            Assert.Equal(marker, byId[id]);
        }

        Assert.Equal(byId.Count, byId.Values.Distinct().Count());
        Assert.Equal(Enumerable.Range(1, (int)lastId + 2).Select(i => (long)i), byId.Keys.Order());
        Assert.Equal([lastId + 1], next);
        Assert.Equal(Enumerable.Range((int)resumeAt + 1, (int)(lastId + 2 - resumeAt)).Select(i => (long)i), resumedIds);
    }

    [Fact]
    public async Task KillDuringAGeneration_Restart_EndsItWithWorkerLostAfterItsTokens()
    {
        var dataDir = Directory.CreateTempSubdirectory("sluice-kill-gen-").FullName;
        string id;
        var seen = new List<string>();
        using (var first = await SluiceProcess.StartAsync(dataDir))
        {
            using var client = first.CreateClient();
            id = (await client.CreateGenerationAsync("""{"model":"simulated/default","messages":[{"role":"user","content":"x"}],"simulate":{"output_tokens":100000,"tokens_per_second":50}}""")).GetProperty("id").GetString()!;
            await using var sse = await SseClient.ConnectAsync(client, $"/v1/generations/{id}/events");
            while (seen.Count < 3)
            {
                var item = await sse.NextAsync();
                if (item?.EventType == "token")
                {
                    seen.Add(item.Value.EventId!);
                }
            }

            first.Kill();
        }

        using var second = await SluiceProcess.StartAsync(dataDir);
        using var again = second.CreateClient();
        var items = await again.ReadEventsAsync(id);

        Assert.Equal(seen, items.Take(3).Select(i => i.EventId!));
        Assert.Equal("error", items[^1].EventType);
        Assert.Equal("worker_lost", JsonDocument.Parse(items[^1].Data).RootElement.GetProperty("code").GetString());
        Assert.All(items.SkipLast(1), i => Assert.Equal("token", i.EventType));
        Assert.Equal("failed", (await again.GetJsonAsync($"/v1/generations/{id}")).GetProperty("status").GetString());
    }

    [Fact]
    public async Task Sigterm_OpenStreamGetsRetryAndEndsCleanly_AcknowledgedEventsKept()
    {
        var dataDir = Directory.CreateTempSubdirectory("sluice-term-").FullName;
        using (var first = await SluiceProcess.StartAsync(dataDir))
        {
            using var client = first.CreateClient();
            await client.PublishAsync("term", "token", new { n = 1 });
            await using var sse = await SseClient.ConnectAsync(client, "/v1/streams/term/events");
            Assert.Equal("1", (await sse.NextAsync())!.Value.EventId);

            first.Terminate();
            var rest = await sse.ReadAllAsync().ToListAsync();

            Assert.Empty(rest);
            Assert.Equal(TimeSpan.FromSeconds(1), sse.Parser.ReconnectionInterval);
            Assert.True(first.WaitForExit(TimeSpan.FromSeconds(30)));
            Assert.Equal(0, first.ExitCode);
        }

        using var second = await SluiceProcess.StartAsync(dataDir);
        using var again = second.CreateClient();
        Assert.Equal(1, (await again.GetJsonAsync("/v1/streams/term")).GetProperty("last_id").GetInt64());
    }

    [Fact]
    public async Task FirstStartWithoutKeys_PrintsBootstrapKeyOnceAndSavesIt()
    {
        var dataDir = Directory.CreateTempSubdirectory("sluice-boot-").FullName;
        string printed;
        using (var first = await SluiceProcess.StartAsync(dataDir, adminKey: null))
        {
            var match = BootstrapKey().Match(first.Output);
            Assert.True(match.Success, first.Output);
            printed = match.Groups[1].Value;
            Assert.Equal(printed, (await File.ReadAllTextAsync(Path.Combine(dataDir, "admin.key"))).Trim());
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(dataDir, "admin.key")));
            using var client = first.CreateClient(printed);
            Assert.Equal(JsonValueKind.Array, (await client.GetJsonAsync("/v1/admin/keys")).GetProperty("keys").ValueKind);
            first.Terminate();
            first.WaitForExit(TimeSpan.FromSeconds(30));
        }

        using var second = await SluiceProcess.StartAsync(dataDir, adminKey: null);
        Assert.DoesNotMatch(BootstrapKey(), second.Output);
        using var again = second.CreateClient(printed);
        using var response = await again.GetAsync("/v1/admin/keys");
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        Assert.DoesNotContain(printed, second.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task InvalidConfiguration_StopsTheStartNamingTheKey()
    {
        var dataDir = Directory.CreateTempSubdirectory("sluice-cfg-").FullName;

        var (exitCode, output) = await SluiceProcess.RunToExitAsync(dataDir, "--Sluice:Retention:MaxEventsPerStream", "0", "--Sluice:Store", "postgres");

        Assert.NotEqual(0, exitCode);
        Assert.Contains("Sluice:Retention:MaxEventsPerStream", output, StringComparison.Ordinal);
        Assert.Contains("Sluice:Store", output, StringComparison.Ordinal);
    }

    [GeneratedRegex(@"shown once:\s+(sk_\S+)")]
    private static partial Regex BootstrapKey();
}
