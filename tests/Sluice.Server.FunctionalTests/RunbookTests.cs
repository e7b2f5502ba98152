using Sluice.Testing;

namespace Sluice.Server.FunctionalTests;

/// <summary>Every <c>sh</c> block of every runbook runs, in order, against a live Sluice and must succeed.</summary>
/// <remarks>
/// Alone, with the observability tests: runbooks read <c>/metrics</c>, and OpenTelemetry listens to meters by name
/// across the process, so a host of another test stopping mid-scrape took <c>sluice_store_up</c> out of the cluster
/// runbook's scrape once in CI.
/// </remarks>
[Collection(nameof(ObservabilityTests))]
public sealed class RunbookTests
{
    public static TheoryData<string> Runbooks()
    {
        var data = new TheoryData<string>();
        foreach (var file in Directory.GetFiles(Path.Combine(ShellBlocks.Root(), "docs", "runbooks"), "*.md").Order())
        {
            data.Add(Path.GetFileName(file));
        }

        return data;
    }

    private static Dictionary<string, string> ClusterSettings(RedisServer redis, string node) => new()
    {
        ["Sluice:Redis"] = redis.ConnectionString,
        ["Sluice:NodeId"] = node,
        ["Sluice:Cluster:LeaseTtl"] = "00:00:03",
    };

    [Theory]
    [MemberData(nameof(Runbooks))]
    public async Task Runbook_EveryShellBlock_RunsAgainstALiveSluice(string runbook)
    {
        var text = await File.ReadAllTextAsync(Path.Combine(ShellBlocks.Root(), "docs", "runbooks", runbook));
        var blocks = ShellBlocks.In(text);
        // The cluster runbook runs against two nodes on one Redis, as its readers' clusters are.
        var cluster = runbook.StartsWith("cluster-", StringComparison.Ordinal);
        await using var redis = cluster ? await RedisServer.StartAsync() : null;
        await using var peer = cluster ? await SluiceTestServer.StartAsync("redis", ClusterSettings(redis!, "peer")) : null;
        await using var server = cluster ? await SluiceTestServer.StartAsync("redis", ClusterSettings(redis!, "first")) : await SluiceTestServer.StartAsync("sqlite");
        if (cluster)
        {
            using var admin = server.CreateClient();
            await Eventually.ValueAsync(async () => await admin.GetJsonAsync("/v1/admin/nodes"), n => n.GetProperty("nodes").GetArrayLength() == 2);
        }

        // A stream with events, so the metrics and the SSE checks have something to show.
        using var client = server.CreateClient();
        await client.PublishAsync("warm", "token", new { text = "x" });
        await using (var sse = await SseClient.ConnectAsync(client, "/v1/streams/warm/events"))
        {
            await sse.NextAsync();
        }

        // A prompt with a newer approved version, for the runbooks' rollback steps.
        using (var v1 = await client.PostJsonAsync("/v1/prompts/support-answer/versions", """{"template":"Answer {{q}}","model":"simulated/default"}"""))
        using (var v2 = await client.PostJsonAsync("/v1/prompts/support-answer/versions", """{"template":"Answer {{q}} at length","model":"simulated/default"}"""))
        using (var approve = await client.PostAsync("/v1/prompts/support-answer/versions/2/approve", null))
        {
            await Api.EnsureAsync(approve, 200);
        }

        Assert.NotEmpty(blocks);
        foreach (var block in blocks)
        {
            var (exitCode, output) = await ShellBlocks.RunAsync(block, new Dictionary<string, string>
            {
                ["SLUICE_URL"] = server.BaseAddress.ToString().TrimEnd('/'),
                ["SLUICE_ADMIN_KEY"] = SluiceTestServer.AdminKey,
            });
            Assert.True(exitCode == 0, $"{runbook}: block failed with {exitCode}:\n{block}\n--- output ---\n{output}");
        }
    }
}
