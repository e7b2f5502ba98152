using System.Text.Json;
using Sluice.Testing;

namespace Sluice.Server.FunctionalTests;

/// <summary>API.md section 8: <c>GET /v1/logs/stream?level=</c>, the node's own log as SSE.</summary>
public sealed class LogStreamTests
{
    [Fact]
    public async Task LogStream_ShowsTheServersWarningsLive_AtTheRequestedLevel_WithoutSecrets()
    {
        await using var server = await SluiceTestServer.StartAsync("memory");
        using var admin = server.CreateClient();
        await admin.PublishAsync("logged", "token", new { text = "a" });
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var logs = await SseClient.ConnectAsync(admin, "/v1/logs/stream?level=warning", cancellationToken: timeout.Token);

        // Provoke a warning: a resume from the future (event_id_ahead) logs sse_resume_failed.
        await using (var ahead = await SseClient.ConnectAsync(admin, "/v1/streams/logged/events", lastEventId: "99", cancellationToken: timeout.Token))
        {
            Assert.Equal("error", (await ahead.NextAsync())?.EventType);
        }

        JsonElement entry = default;
        await foreach (var item in logs.ReadAllAsync(timeout.Token))
        {
            if (item.EventType != "log")
            {
                continue;
            }

            entry = JsonDocument.Parse(item.Data).RootElement;
            Assert.NotEqual("information", entry.GetProperty("level").GetString());
            Assert.Null(item.EventId);
            Assert.DoesNotContain(SluiceTestServer.AdminKey, item.Data, StringComparison.Ordinal);
            if (entry.GetProperty("message").GetString()!.Contains("sse_resume_failed", StringComparison.Ordinal))
            {
                break;
            }
        }

        Assert.Equal("warning", entry.GetProperty("level").GetString());
        Assert.Equal(6001, entry.GetProperty("event_id").GetInt32());
        Assert.EndsWith("SseResponder", entry.GetProperty("category").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task LogStream_ForNonAdminOrBadLevel_IsRefused()
    {
        await using var server = await SluiceTestServer.StartAsync("memory");
        using var admin = server.CreateClient();
        using var tenant = server.CreateClient((await admin.CreateKeyAsync("acme", "publish", "subscribe")).Key);

        using var forbidden = await tenant.GetAsync("/v1/logs/stream");
        using var badLevel = await admin.GetAsync("/v1/logs/stream?level=loud");

        await forbidden.ProblemAsync(403);
        await badLevel.ProblemAsync(400);
    }
}
