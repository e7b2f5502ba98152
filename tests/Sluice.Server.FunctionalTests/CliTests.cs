using System.Text.Json;
using Sluice.Cli;

using Sluice.Testing;

namespace Sluice.Server.FunctionalTests;

public sealed class CliTests : IAsyncLifetime
{
    private SluiceTestServer _server = null!;

    public async Task InitializeAsync() => _server = await SluiceTestServer.StartAsync("memory");

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private async Task<(int Exit, string Out, string Err)> RunAsync(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var exit = await SluiceCli.RunAsync([.. args, "--url", _server.BaseAddress.ToString(), "--key", SluiceTestServer.AdminKey], stdout, stderr);
        return (exit, stdout.ToString(), stderr.ToString());
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
