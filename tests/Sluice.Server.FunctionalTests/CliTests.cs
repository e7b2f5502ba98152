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
