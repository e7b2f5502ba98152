using System.Diagnostics;
using Sluice.Testing;

namespace Sluice.Server.FunctionalTests;

// Alone: a sustained load, measured against the file it leaves.
[CollectionDefinition(nameof(WalSoakTests), DisableParallelization = true)]
public sealed class WalSoakCollection;

/// <summary>The SQLite WAL stays bounded under sustained publishing with live readers, and gives its space back when idle.</summary>
[Collection(nameof(WalSoakTests))]
public sealed class WalSoakTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private const int Streams = 64;
    private const int EventsPerStream = 60_000 / Streams + 1; // 60,032 in all

    [Fact]
    public async Task SixtyThousandPublishes_AcrossSixtyFourStreams_WithReaders_KeepTheWalBounded_AndEveryEventReadable()
    {
        await using var server = await SluiceTestServer.StartAsync("sqlite");
        using var client = server.CreateClient();
        var wal = Path.Combine(server.DataDir, "sluice.db-wal");
        long WalBytes() => File.Exists(wal) ? new FileInfo(wal).Length : 0;

        using var sampling = new CancellationTokenSource();
        var peak = 0L;
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                peak = Math.Max(peak, WalBytes());
                await Task.Delay(50, CancellationToken.None);
            }
        });

        // One reader per stream, live from the start, each to the stream's last event.
        var readers = Enumerable.Range(0, Streams).Select(s => Task.Run(async () =>
        {
            await client.PublishAsync($"soak-{s}", "token", new { text = "open" });
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
            await using var sse = await SseClient.ConnectAsync(client, $"/v1/streams/soak-{s}/events", cancellationToken: timeout.Token);
            var seen = 0;
            await foreach (var item in sse.ReadAllAsync(timeout.Token))
            {
                if (item.EventType == "token" && ++seen == EventsPerStream + 1)
                {
                    return seen;
                }
            }

            return seen;
        })).ToArray();

        var watch = Stopwatch.StartNew();
        var publishers = Enumerable.Range(0, Streams).Select(s => Task.Run(async () =>
        {
            for (var i = 0; i < EventsPerStream; i++)
            {
                await client.PublishAsync($"soak-{s}", "token", new { text = $"token {i} of stream {s}, about the size of a word or two" });
            }
        })).ToArray();
        await Task.WhenAll(publishers);
        var seenPerStream = await Task.WhenAll(readers);
        await sampling.CancelAsync();
        await sampler;
        peak = Math.Max(peak, WalBytes());

        output.WriteLine($"60,032 publishes in {watch.Elapsed}: WAL peak {peak:N0} bytes");
        Assert.All(seenPerStream, seen => Assert.Equal(EventsPerStream + 1, seen));
        Assert.True(peak < 128L * 1024 * 1024, $"the WAL reached {peak:N0} bytes during {watch.Elapsed}");

        // Idle: the WAL gives its space back within 10 s.
        var idle = Stopwatch.StartNew();
        while (WalBytes() >= 64L * 1024 * 1024 && idle.Elapsed < TimeSpan.FromSeconds(10))
        {
            await Task.Delay(100);
        }

        output.WriteLine($"WAL after {idle.Elapsed} idle: {WalBytes():N0} bytes");
        Assert.True(WalBytes() < 64L * 1024 * 1024, $"the WAL is still {WalBytes():N0} bytes after 10 s idle");
        Assert.Equal(EventsPerStream + 1, (await client.GetJsonAsync("/v1/streams/soak-7")).GetProperty("last_id").GetInt64());
    }
}
