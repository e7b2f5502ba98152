using Microsoft.Extensions.DependencyInjection;
using Sluice.Streams;
using Sluice.Storage.Sqlite;
using Sluice.Testing;

namespace Sluice.Server.FunctionalTests;

/// <summary>State that user input would grow is bounded: the SQLite writer's per-stream counters, repeated trace events.</summary>
public sealed class BoundedStateTests
{
    [Fact]
    public async Task TheSqliteWriter_ForgetsClosedStreams_AndStillRefusesTheirAppends()
    {
        await using var server = await SluiceTestServer.StartAsync("sqlite");
        using var client = server.CreateClient();
        var log = Assert.IsType<SqliteEventLog>(server.App.Services.GetRequiredService<IEventLog>());

        for (var i = 0; i < 30; i++)
        {
            await client.PublishAsync($"bounded-{i}", "token", new { text = "x" });
            if (i >= 10)
            {
                await client.PublishAsync($"bounded-{i}", "done", new { finish_reason = "stop" });
            }
        }

        Assert.Equal(10, log.CachedStreams);
        using var late = await client.PostJsonAsync("/v1/streams/bounded-20/events", """{"type":"token","data":{"text":"late"}}""");
        await late.ProblemAsync(409);
        Assert.Equal(10, log.CachedStreams);
        var ids = await client.PublishAsync("bounded-3", "token", new { text = "still open" });
        Assert.Equal(2L, Assert.Single(ids));
    }
}
