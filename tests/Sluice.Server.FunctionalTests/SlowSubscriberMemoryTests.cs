using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Sluice.Fanout;
using Sluice.Testing;

namespace Sluice.Server.FunctionalTests;

// Alone: the check reads the whole process's managed heap.
[CollectionDefinition(nameof(SlowSubscriberMemoryTests), DisableParallelization = true)]
public sealed class SlowSubscriberMemoryCollection;

/// <summary>A subscriber that never reads costs a bounded amount of memory however large the events: Sluice:Limits:SubscriberBufferBytes.</summary>
[Collection(nameof(SlowSubscriberMemoryTests))]
public sealed class SlowSubscriberMemoryTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [Fact]
    public async Task LargeEvents_ToASubscriberThatNeverReads_KeepTheHeapFlat_AndTheSubscriberIsCut()
    {
        // The write timeout is far away: only the byte bound can let go of what the stuck subscriber has not read.
        await using var server = await SluiceTestServer.StartAsync("sqlite", new Dictionary<string, string> { ["Sluice:Limits:WriteTimeout"] = "00:10:00" });
        using var client = server.CreateClient();
        var hub = server.App.Services.GetRequiredService<StreamHub>();
        await client.PublishAsync("big", "token", new { text = "first" });

        // A raw socket that sends the request and never reads a byte of the response.
        using var stuck = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
        await stuck.ConnectAsync(server.BaseAddress.Host, server.BaseAddress.Port);
        await stuck.SendAsync(Encoding.ASCII.GetBytes(
            $"GET /v1/streams/big/events HTTP/1.1\r\nHost: {server.BaseAddress.Authority}\r\nAuthorization: Bearer {SluiceTestServer.AdminKey}\r\nAccept: text/event-stream\r\n\r\n"));
        await Eventually.TrueAsync(() => hub.OpenConnections == 1);
        var before = GC.GetTotalMemory(forceFullCollection: true);

        var text = new string('x', 900_000);
        var body = JsonSerializer.Serialize(new { type = "token", data = new { text } });
        for (var i = 0; i < 150; i++)
        {
            using var response = await client.PostJsonAsync("/v1/streams/big/events", body);
            await Api.EnsureAsync(response, 201);
        }

        var grown = GC.GetTotalMemory(forceFullCollection: true) - before;
        output.WriteLine($"150 events of 900 KB to a subscriber that never reads: the heap grew by {grown:N0} bytes");

        // 150 events of 900 KB are ~400 MB as strings and frames; the ring keeps 8 MiB of them.
        Assert.True(grown < 100_000_000, $"the heap grew by {grown:N0} bytes");
        await Eventually.TrueAsync(() => hub.OpenConnections == 0);
        // Nothing was lost: a resume reads every event from the log.
        Assert.Equal(151, (await client.GetJsonAsync("/v1/streams/big")).GetProperty("last_id").GetInt64());
    }
}
