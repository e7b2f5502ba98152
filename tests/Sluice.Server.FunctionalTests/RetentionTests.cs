using Sluice.Testing;

namespace Sluice.Server.FunctionalTests;

public sealed class RetentionTests
{
    [Fact]
    public async Task ResumeFromTrimmedId_GetsHistoryTruncatedThenEveryRetainedEvent()
    {
        await using var server = await SluiceTestServer.StartAsync("sqlite", new Dictionary<string, string> { ["Sluice:Retention:MaxEventsPerStream"] = "10" });
        using var client = server.CreateClient();
        for (var i = 1; i <= 25; i++)
        {
            await client.PublishAsync("trim", "token", new { n = i });
        }

        await client.PublishAsync("trim", "done");

        await using var sse = await SseClient.ConnectAsync(client, "/v1/streams/trim/events", lastEventId: "3");
        var items = await sse.ReadAllAsync().ToListAsync();
        var info = await client.GetJsonAsync("/v1/streams/trim");

        Assert.Equal("error", items[0].EventType);
        Assert.Null(items[0].EventId);
        Assert.Equal("""{"code":"history_truncated","first_available_id":17,"retryable":false}""", items[0].Data);
        Assert.Equal(Enumerable.Range(17, 10).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)), items.Skip(1).Select(i => i.EventId));
        Assert.Equal(17, info.GetProperty("first_id").GetInt64());
        Assert.Equal(10, info.GetProperty("events").GetInt64());
    }

    [Fact]
    public async Task ResumeFromFirstRetainedMinusOne_IsNotTruncated()
    {
        await using var server = await SluiceTestServer.StartAsync("sqlite", new Dictionary<string, string> { ["Sluice:Retention:MaxEventsPerStream"] = "5" });
        using var client = server.CreateClient();
        for (var i = 1; i <= 9; i++)
        {
            await client.PublishAsync("edge", "token", new { n = i });
        }

        await client.PublishAsync("edge", "done");

        await using var sse = await SseClient.ConnectAsync(client, "/v1/streams/edge/events", lastEventId: "5");
        var items = await sse.ReadAllAsync().ToListAsync();

        Assert.Equal(["6", "7", "8", "9", "10"], items.Select(i => i.EventId));
    }
}
