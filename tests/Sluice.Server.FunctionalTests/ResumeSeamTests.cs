using System.Text.Json;

using Sluice.Testing;

namespace Sluice.Server.FunctionalTests;

public sealed class ResumeSeamTests
{
    [Fact]
    public async Task TenThousandEvents_FiftySubscribersDroppingAtRandom_EachGetsEveryEventOnceInOrder()
    {
        const int Events = 10_000;
        const int Subscribers = 50;
        await using var server = await SluiceTestServer.StartAsync("sqlite");
        using var publisher = server.CreateClient();
        await publisher.PublishAsync("seam", "token", new { n = 1 });
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(5));

        var subscribers = Enumerable.Range(0, Subscribers).Select(i => Task.Run(() => SubscribeWithDropsAsync(server, i, cts.Token))).ToArray();
        for (var n = 2; n < Events; n++)
        {
            await publisher.PublishAsync("seam", "token", new { n }, cts.Token);
        }

        await publisher.PublishAsync("seam", "done", new { n = Events }, cts.Token);
        var results = await Task.WhenAll(subscribers);

        foreach (var (received, reconnects) in results)
        {
            Assert.Equal(Enumerable.Range(1, Events).Select(i => (long)i), received);
            Assert.True(reconnects >= 1);
        }
    }

    /// <summary>Reads a random number of events, drops the connection, resumes with the last id seen.</summary>
    private static async Task<(List<long> Received, int Reconnects)> SubscribeWithDropsAsync(SluiceTestServer server, int seed, CancellationToken ct)
    {
        var random = new Random(seed);
        using var client = server.CreateClient();
        var received = new List<long>();
        string? lastId = null;
        var reconnects = -1;
        while (true)
        {
            reconnects++;
            var budget = random.Next(1, 1500);
            await using var sse = await SseClient.ConnectAsync(client, "/v1/streams/seam/events", lastId, ct);
            await foreach (var item in sse.ReadAllAsync(ct))
            {
                if (item.EventType == "heartbeat")
                {
                    continue;
                }

                Assert.NotNull(item.EventId);
                var id = long.Parse(item.EventId!, System.Globalization.CultureInfo.InvariantCulture);
                Assert.Equal(id, JsonDocument.Parse(item.Data).RootElement.GetProperty("n").GetInt64());
                received.Add(id);
                lastId = item.EventId;
                if (item.EventType == "done")
                {
                    return (received, reconnects);
                }

                if (--budget == 0)
                {
                    break;
                }
            }
        }
    }
}
