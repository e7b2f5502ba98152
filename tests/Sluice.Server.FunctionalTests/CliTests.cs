using System.Text.Json;
using Sluice.Cli;

using Sluice.Testing;

namespace Sluice.Server.FunctionalTests;

public sealed class CliTests : IAsyncLifetime
{
    private SluiceTestServer _server = null!;

    public async Task InitializeAsync() => _server = await SluiceTestServer.StartAsync("memory");

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private Task<(int Exit, string Out, string Err)> RunAsync(params string[] args) => RunWithKeyAsync(SluiceTestServer.AdminKey, args);

    private async Task<(int Exit, string Out, string Err)> RunWithKeyAsync(string key, params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var exit = await SluiceCli.RunAsync([.. args, "--url", _server.BaseAddress.ToString(), "--key", key], stdout, stderr);
        return (exit, stdout.ToString().Replace("\r\n", "\n", StringComparison.Ordinal), stderr.ToString().Replace("\r\n", "\n", StringComparison.Ordinal));
    }

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    [Fact]
    public async Task Generate_AgainstLiveSluice_PrintsTheTokensAsStored_ThenTheSummary()
    {
        var (exit, output, summary) = await RunAsync("generate", "hello there", "--max-tokens", "6");

        using var client = _server.CreateClient();
        var id = (await client.GetJsonAsync("/v1/generations?limit=10")).GetProperty("data").EnumerateArray().Single().GetProperty("id").GetString()!;
        var stored = string.Concat((await client.ReadEventsAsync(id)).Where(e => e.EventType == "token").Select(e => JsonDocument.Parse(e.Data).RootElement.GetProperty("text").GetString()));
        Assert.Equal(0, exit);
        Assert.Equal(stored + "\n", output);
        var line = Assert.Single(Lines(summary));
        Assert.Matches(@"^ttft \d+ ms  tokens 6  tokens/s \d+\.\d  e2e \d+\.\d\d s  finish length  reconnects 0$", line);
    }

    [Fact]
    public async Task Generate_Json_PrintsOneParsableObjectPerEvent_InOrder_EndingWithDone()
    {
        var (exit, output, _) = await RunAsync("generate", "hi", "--max-tokens", "4", "--json");

        var events = Lines(output).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(0, exit);
        Assert.Equal(Enumerable.Range(1, 5).Select(i => (long)i), events.Select(e => e.GetProperty("id").GetInt64()));
        Assert.Equal(["token", "token", "token", "token", "done"], events.Select(e => e.GetProperty("type").GetString()));
        Assert.All(events.Take(4), e => Assert.False(string.IsNullOrEmpty(e.GetProperty("data").GetProperty("text").GetString())));
        Assert.Equal("length", events[^1].GetProperty("data").GetProperty("finish_reason").GetString());
    }

    [Fact]
    public async Task KeysCreate_MakesAKeyThatGenerates_AndAWrongKeyGetsOneLineAndExitOne()
    {
        var (createExit, created, _) = await RunAsync("keys", "create", "--tenant", "acme", "--roles", "generate,subscribe");
        var secret = JsonDocument.Parse(created).RootElement.GetProperty("key").GetString()!;
        var (generateExit, text, _) = await RunWithKeyAsync(secret, "generate", "hello", "--max-tokens", "2");
        var (wrongExit, wrongOut, wrongErr) = await RunWithKeyAsync("sk_wrong", "generate", "hello");
        var (listExit, _, listErr) = await RunWithKeyAsync("sk_wrong", "keys", "list");

        Assert.Equal(0, createExit);
        Assert.Equal(0, generateExit);
        Assert.NotEmpty(text.Trim());
        Assert.Equal((1, ""), (wrongExit, wrongOut));
        Assert.Matches(@"^sluice: .+ \(unauthorized\)$", Assert.Single(Lines(wrongErr)));
        Assert.Equal(1, listExit);
        Assert.Matches(@"^sluice: .+ \(unauthorized\)$", Assert.Single(Lines(listErr)));
    }

    [Fact]
    public async Task Generate_UnknownModel_IsOneLineWithTheProblemCode()
    {
        var (exit, output, error) = await RunAsync("generate", "hello", "--model", "nope/none");

        Assert.Equal((1, ""), (exit, output));
        Assert.Matches(@"^sluice: .+ \(unknown_model\)$", Assert.Single(Lines(error)));
    }

    [Fact]
    public void GenerationSummary_OnlyANormalFinishSucceeds()
    {
        static GenerationSummary After(params Sluice.Client.SluiceEvent[] events)
        {
            var summary = new GenerationSummary();
            foreach (var e in events)
            {
                summary.Add(e, TimeSpan.FromMilliseconds(10));
            }

            return summary;
        }

        var data = JsonDocument.Parse("{}").RootElement;
        Assert.True(After(new Sluice.Client.TokenEvent(1, "a"), new Sluice.Client.DoneEvent(2, "stop", 1, 1, data)).Succeeded);
        Assert.False(After(new Sluice.Client.TokenEvent(1, "a"), new Sluice.Client.DoneEvent(2, "cancelled", 1, 1, data)).Succeeded);
        Assert.False(After(new Sluice.Client.TokenEvent(1, "a"), new Sluice.Client.ErrorEvent(2, "provider_error", "boom", false)).Succeeded);
        Assert.False(After(new Sluice.Client.SafeResponseEvent(1, "I can't help with that.", "policy")).Succeeded);
        Assert.False(After(new Sluice.Client.TokenEvent(1, "a")).Succeeded);
    }

    [Fact]
    public async Task Tail_Json_PrintsOneParsableObjectPerEvent()
    {
        using var client = _server.CreateClient();
        await client.PublishAsync("tailed-json", "token", new { text = "a" });
        await client.PublishAsync("tailed-json", "x-progress", new { pct = 50 });
        await client.PublishAsync("tailed-json", "done");

        var (exit, output, _) = await RunAsync("tail", "tailed-json", "--json");

        var events = Lines(output).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(0, exit);
        Assert.Equal(["token", "x-progress", "done"], events.Select(e => e.GetProperty("type").GetString()));
        Assert.Equal(50, events[1].GetProperty("data").GetProperty("pct").GetInt32());
    }

    [Fact]
    public async Task Bench_EachScenario_RunsBoundedAndReportsNothingLost()
    {
        var (publishExit, publish, _) = await RunAsync("bench", "publish", "--count", "60", "--concurrency", "3", "--streams", "2", "--json");
        var (fanoutExit, fanout, _) = await RunAsync("bench", "fanout", "--subscribers", "4", "--rate", "40", "--duration", "1", "--json");
        var (burstExit, burst, _) = await RunAsync("bench", "burst", "--subscribers", "5", "--history", "250", "--json");
        var (generationsExit, generations, _) = await RunAsync("bench", "generations", "--count", "4", "--concurrency", "2", "--tokens", "5", "--json");
        var (tableExit, table, _) = await RunAsync("bench", "publish", "--count", "5", "--concurrency", "1");

        Assert.Equal((0, 0, 0, 0, 0), (publishExit, fanoutExit, burstExit, generationsExit, tableExit));
        var p = JsonDocument.Parse(publish).RootElement;
        Assert.Equal((60, 0), (p.GetProperty("publishes").GetInt64(), p.GetProperty("errors").GetInt64()));
        var f = JsonDocument.Parse(fanout).RootElement;
        Assert.Equal((160L, 0L, 0L), (f.GetProperty("delivered").GetInt64(), f.GetProperty("missing").GetInt64(), f.GetProperty("out_of_order").GetInt64()));
        Assert.True(f.GetProperty("latency_p99_ms").GetDouble() >= f.GetProperty("latency_p50_ms").GetDouble());
        var b = JsonDocument.Parse(burst).RootElement;
        Assert.Equal((1250L, 0L, 0L), (b.GetProperty("replayed").GetInt64(), b.GetProperty("missing").GetInt64(), b.GetProperty("out_of_order").GetInt64()));
        var g = JsonDocument.Parse(generations).RootElement;
        Assert.Equal((0L, 20L), (g.GetProperty("failed").GetInt64(), g.GetProperty("tokens").GetInt64()));
        Assert.Contains("publish rate", table, StringComparison.Ordinal);
        Assert.Contains("publishes/s", table, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bench_ElsewhereThanThisMachine_OrOverItsBounds_IsRefusedBeforeAnyLoad()
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var remote = await SluiceCli.RunAsync(["bench", "publish", "--url", "http://192.0.2.1:8080", "--key", "k"], stdout, stderr);
        var (tooMany, _, tooManyErr) = await RunAsync("bench", "fanout", "--subscribers", "20000");
        var (tooLong, _, _) = await RunAsync("bench", "publish", "--duration", "100000");

        Assert.Equal(2, remote);
        Assert.Contains("--allow-remote", stderr.ToString(), StringComparison.Ordinal);
        Assert.Equal(1, tooMany);
        Assert.Contains("--subscribers must be between 1 and 10,000", tooManyErr, StringComparison.Ordinal);
        Assert.Equal(1, tooLong);
    }

    [Fact]
    public async Task Keys_CreateListRevoke_ManageKeysOverTheApi()
    {
        var (createExit, created, _) = await RunAsync("keys", "create", "--tenant", "acme", "--roles", "publish,subscribe", "--name", "cli");
        var body = JsonDocument.Parse(created).RootElement;
        var id = body.GetProperty("id").GetString()!;
        var secret = body.GetProperty("key").GetString()!;
        using var client = _server.CreateClient(secret);
        var ids = await client.PublishAsync("cli-stream", "token");

        var (listExit, listed, _) = await RunAsync("keys", "list", "--tenant", "acme");
        var (revokeExit, _, _) = await RunAsync("keys", "revoke", id);
        using var afterRevoke = await client.GetAsync("/v1/streams/cli-stream");
        var (againExit, _, againErr) = await RunAsync("keys", "revoke", id);

        Assert.Equal(0, createExit);
        Assert.Equal(new long[] { 1 }, ids);
        Assert.Equal(0, listExit);
        Assert.Contains(id, listed, StringComparison.Ordinal);
        Assert.DoesNotContain(secret, listed, StringComparison.Ordinal);
        Assert.Equal(0, revokeExit);
        await afterRevoke.ProblemAsync(401);
        Assert.Equal(1, againExit);
        Assert.Contains("not_found", againErr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ops_KillSwitchRetriedWithItsKey_ActsOnce_IsAuditedAndTraced_ThenLifted()
    {
        var (providersExit, providers, _) = await RunAsync("ops", "providers");
        var (killExit, killed, _) = await RunAsync("ops", "kill-switch", "simulated", "--reason", "cli drill", "--seconds", "60", "--idempotency-key", "cli-kill-1");
        var (againExit, again, _) = await RunAsync("ops", "kill-switch", "simulated", "--reason", "cli drill", "--seconds", "60", "--idempotency-key", "cli-kill-1");
        var (auditExit, audit, _) = await RunAsync("ops", "audit", "--size", "10");
        var (tracesExit, traces, _) = await RunAsync("ops", "traces", "--keyword", "kill_switch_enabled", "--size", "5");
        var (liftExit, lifted, _) = await RunAsync("ops", "kill-switch", "simulated", "--disable", "--reason", "drill over");

        Assert.Equal(0, providersExit);
        Assert.Contains("\"simulated\"", providers, StringComparison.Ordinal);
        Assert.Equal(0, killExit);
        Assert.Equal("killed", JsonDocument.Parse(killed).RootElement.GetProperty("state").GetString());
        Assert.Equal(0, againExit);
        Assert.Equal(killed, again);
        Assert.Equal(0, auditExit);
        Assert.Single(JsonDocument.Parse(audit).RootElement.GetProperty("data").EnumerateArray(), e => e.GetProperty("action").GetString() == "kill_switch_enabled");
        Assert.Equal(0, tracesExit);
        Assert.Contains("cli drill", traces, StringComparison.Ordinal);
        Assert.Equal(0, liftExit);
        Assert.Equal("healthy", JsonDocument.Parse(lifted).RootElement.GetProperty("state").GetString());
    }

    [Fact]
    public async Task Ops_RollbackSummaryAndBadInput()
    {
        using var client = _server.CreateClient();
        using (var v1 = await client.PostJsonAsync("/v1/prompts/cli-prompt/versions", """{"template":"One","model":"simulated/default"}"""))
        using (var v2 = await client.PostJsonAsync("/v1/prompts/cli-prompt/versions", """{"template":"Two","model":"simulated/default"}"""))
        using (var approve = await client.PostAsync("/v1/prompts/cli-prompt/versions/2/approve", null))
        {
            await Api.EnsureAsync(approve, 200);
        }

        var (rollbackExit, rolledBack, _) = await RunAsync("ops", "rollback", "--prompt", "cli-prompt", "--to-version", "1", "--reason", "v2 regressed");
        var (summaryExit, summary, _) = await RunAsync("ops", "summary", "--limit", "5", "--tenant", "default");
        var (unknownExit, _, unknown) = await RunAsync("ops", "kill-switch", "nobody");
        var (badSizeExit, _, badSize) = await RunAsync("ops", "traces", "--size", "5000");

        Assert.Equal(0, rollbackExit);
        Assert.Equal(1, JsonDocument.Parse(rolledBack).RootElement.GetProperty("active_version").GetInt32());
        Assert.Equal(1, (await client.GetJsonAsync("/v1/prompts/cli-prompt")).GetProperty("active_version").GetInt32());
        Assert.Equal(0, summaryExit);
        var rows = JsonDocument.Parse(summary).RootElement.GetProperty("data").EnumerateArray().ToList();
        Assert.NotEmpty(rows);
        Assert.All(rows, r => Assert.Equal("default", r.GetProperty("tenant").GetString()));
        Assert.Equal(1, unknownExit);
        Assert.Contains("not_found", unknown, StringComparison.Ordinal);
        Assert.Equal(1, badSizeExit);
        Assert.Contains("invalid_request", badSize, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Keys_CreateWithUnknownRole_FailsWithTheProblem()
    {
        var (exit, _, err) = await RunAsync("keys", "create", "--tenant", "acme", "--roles", "root");

        Assert.Equal(1, exit);
        Assert.Contains("Unknown role", err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Tail_ClosedStream_PrintsEveryEventThenExits()
    {
        using var client = _server.CreateClient();
        await client.PublishAsync("tailed", "token", new { text = "a" });
        await client.PublishAsync("tailed", "done");

        var (exit, output, _) = await RunAsync("tail", "tailed");
        var (resumeExit, resumed, _) = await RunAsync("tail", "tailed", "--last-event-id", "1");

        Assert.Equal(0, exit);
        Assert.Equal("1\ttoken\t{\"text\":\"a\"}\n2\tdone\t{}\n", output.Replace("\r\n", "\n", StringComparison.Ordinal));
        Assert.Equal(0, resumeExit);
        Assert.Equal("2\tdone\t{}\n", resumed.Replace("\r\n", "\n", StringComparison.Ordinal));
    }
}
