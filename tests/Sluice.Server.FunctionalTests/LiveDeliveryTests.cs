using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Time.Testing;
using Sluice.Fanout;

using Sluice.Testing;

namespace Sluice.Server.FunctionalTests;

/// <summary>Measures the managed heap of the process, so nothing else may run beside it.</summary>
[CollectionDefinition(nameof(LiveDeliveryTests), DisableParallelization = true)]
public sealed class LiveDeliveryCollection;

[Collection(nameof(LiveDeliveryTests))]
public sealed class LiveDeliveryTests
{
    [Fact]
    public async Task SubscriberThatNeverReads_IsDisconnected_OthersReceiveEverything_MemoryStaysFlat()
    {
        await using var server = await SluiceTestServer.StartAsync("memory", new Dictionary<string, string>
        {
            ["Sluice:Limits:SubscriberBufferEvents"] = "64",
            ["Sluice:Retention:MaxEventsPerStream"] = "8",
        });
        var hub = server.App.Services.GetRequiredService<StreamHub>();
        using var client = server.CreateClient();
        await client.PublishAsync("firehose", "token", new { n = 0 });

        // A raw socket that sends the request and then never reads a byte.
        using var stalled = new TcpClient();
        stalled.ReceiveBufferSize = 4096;
        await stalled.ConnectAsync(server.BaseAddress.Host, server.BaseAddress.Port);
        await stalled.GetStream().WriteAsync(Encoding.ASCII.GetBytes(
            $"GET /v1/streams/firehose/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {SluiceTestServer.AdminKey}\r\n\r\n"));
        await using var healthy = await SseClient.ConnectAsync(client, "/v1/streams/firehose/events");
        await Eventually.TrueAsync(() => hub.OpenConnections == 2);
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        var before = GC.GetTotalMemory(forceFullCollection: true);

        var payload = new string('x', 64 * 1024);
        var received = Task.Run(async () =>
        {
            var count = 0;
            await foreach (var item in healthy.ReadAllAsync())
            {
                count++;
                if (item.EventType == "done")
                {
                    break;
                }
            }

            return count;
        });
        for (var i = 1; i <= 600; i++)
        {
            await client.PublishAsync("firehose", "token", new { n = i, payload });
        }

        await client.PublishAsync("firehose", "done");
        var healthyCount = await received.WaitAsync(TimeSpan.FromMinutes(2));
        await Eventually.TrueAsync(() => hub.OpenConnections == 0);
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        var after = GC.GetTotalMemory(forceFullCollection: true);

        // 1 replayed + 600 live + done: ~39 MB of data (~115 MB as strings and frames) went through the hub
        // while the stalled client read nothing; holding it for that client would keep at least 39 MB. What
        // stays is bounded: the log's 8 retained events (~1.5 MB) and Kestrel's pooled buffers.
        Assert.Equal(602, healthyCount);
        Assert.True(after - before < 16 * 1024 * 1024, $"managed heap grew by {(after - before) / 1024} KiB");
        Assert.Equal(0, await DrainUntilClosedAsync(stalled));
    }

    /// <summary>Reads what the kernel buffered until the server's abort shows as EOF or reset.</summary>
    private static async Task<int> DrainUntilClosedAsync(TcpClient socket)
    {
        var buffer = new byte[64 * 1024];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            while (await socket.GetStream().ReadAsync(buffer, timeout.Token) > 0)
            {
            }
        }
        catch (IOException)
        {
        }

        return 0;
    }

    [Fact]
    public async Task SubscriberThatStopsReadingDuringReplay_IsCutAfterTheWriteTimeout()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var server = await SluiceTestServer.StartAsync("memory", new Dictionary<string, string> { ["Sluice:Limits:WriteTimeout"] = "00:00:30" },
            configure: b => b.Services.Replace(ServiceDescriptor.Singleton<TimeProvider>(time)));
        var hub = server.App.Services.GetRequiredService<StreamHub>();
        using var client = server.CreateClient();
        var payload = new string('x', 64 * 1024);
        for (var start = 0; start < 400; start += 40)
        {
            using var batch = await client.PostJsonAsync("/v1/streams/history/events",
                System.Text.Json.JsonSerializer.Serialize(new { events = Enumerable.Range(start, 40).Select(n => new { type = "token", data = new { n, payload } }) }));
            await Api.EnsureAsync(batch, 201);
        }

        // ~26 MB of history to a client that reads nothing: the replay blocks once the socket buffers are full.
        using var stalled = new TcpClient();
        stalled.ReceiveBufferSize = 4096;
        await stalled.ConnectAsync(server.BaseAddress.Host, server.BaseAddress.Port);
        await stalled.GetStream().WriteAsync(Encoding.ASCII.GetBytes(
            $"GET /v1/streams/history/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {SluiceTestServer.AdminKey}\r\n\r\n"));
        await Eventually.TrueAsync(() => hub.OpenConnections == 1);

        // The deadline is armed only once a write is stuck; keep moving the clock until it fires.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (hub.OpenConnections != 0)
        {
            time.Advance(TimeSpan.FromSeconds(31));
            await Task.Delay(50, timeout.Token);
        }

        Assert.Equal(0, hub.OpenConnections);
        Assert.Equal(0, await DrainUntilClosedAsync(stalled));
    }

    [Fact]
    public async Task ConnectionLimit_Reached_Answers503WithRetryAfter()
    {
        await using var server = await SluiceTestServer.StartAsync("memory", new Dictionary<string, string> { ["Sluice:Limits:MaxSseConnections"] = "2" });
        using var client = server.CreateClient();
        await client.PublishAsync("busy", "token");
        await using var a = await SseClient.ConnectAsync(client, "/v1/streams/busy/events");
        await using var b = await SseClient.ConnectAsync(client, "/v1/streams/busy/events");

        using var third = await client.GetAsync("/v1/streams/busy/events", HttpCompletionOption.ResponseHeadersRead);

        var problem = await third.ProblemAsync(503);
        Assert.Equal("overloaded", problem.GetProperty("code").GetString());
        Assert.True(int.Parse(third.Headers.GetValues("Retry-After").Single(), System.Globalization.CultureInfo.InvariantCulture) >= 1);
    }

    [Fact]
    public async Task Heartbeat_EveryInterval_HasNoIdAndCarriesServerTime()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 25, 12, 0, 0, TimeSpan.Zero));
        await using var server = await SluiceTestServer.StartAsync("memory",
            configure: b => b.Services.Replace(ServiceDescriptor.Singleton<TimeProvider>(time)));
        var hub = server.App.Services.GetRequiredService<StreamHub>();
        using var client = server.CreateClient();
        await client.PublishAsync("quiet", "token", new { n = 1 });
        await using var sse = await SseClient.ConnectAsync(client, "/v1/streams/quiet/events");
        Assert.Equal("1", (await sse.NextAsync())!.Value.EventId);
        await Eventually.TrueAsync(() => hub.OpenConnections == 1);

        time.Advance(TimeSpan.FromSeconds(15));
        var heartbeat = await sse.NextAsync();
        var lastEventIdAfterHeartbeat = sse.Parser.LastEventId;
        await client.PublishAsync("quiet", "token", new { n = 2 });
        var next = await sse.NextAsync();

        Assert.Equal("heartbeat", heartbeat!.Value.EventType);
        Assert.Null(heartbeat.Value.EventId);
        Assert.Equal("""{"server_time":"2026-11-25T12:00:15.0000000+00:00"}""", heartbeat.Value.Data);
        Assert.Equal("1", lastEventIdAfterHeartbeat);
        Assert.Equal("2", next!.Value.EventId);
    }

    [Fact]
    public async Task Shutdown_OpenStreamsGetRetryAndEnd()
    {
        var server = await SluiceTestServer.StartAsync("memory", new Dictionary<string, string> { ["Sluice:Retry"] = "00:00:02.500" });
        using var client = server.CreateClient();
        await client.PublishAsync("bye", "token");
        await using var sse = await SseClient.ConnectAsync(client, "/v1/streams/bye/events");
        Assert.Equal("1", (await sse.NextAsync())!.Value.EventId);

        var stopping = server.DisposeAsync().AsTask();
        var rest = await sse.ReadAllAsync().ToListAsync();
        await stopping;

        Assert.Empty(rest);
        Assert.Equal(TimeSpan.FromMilliseconds(2500), sse.Parser.ReconnectionInterval);
    }

    [Fact]
    public async Task Cors_AllowedOriginPreflight_AllowsLastEventIdAndAuthorization()
    {
        await using var server = await SluiceTestServer.StartAsync("memory", new Dictionary<string, string> { ["Sluice:Cors:Origins:0"] = "https://app.example.com" });
        using var client = server.CreateClient(key: null);

        var allowed = new HttpRequestMessage(HttpMethod.Options, "/v1/streams/x/events");
        allowed.Headers.Add("Origin", "https://app.example.com");
        allowed.Headers.Add("Access-Control-Request-Method", "GET");
        allowed.Headers.Add("Access-Control-Request-Headers", "last-event-id,authorization");
        using var ok = await client.SendAsync(allowed);
        var denied = new HttpRequestMessage(HttpMethod.Options, "/v1/streams/x/events");
        denied.Headers.Add("Origin", "https://evil.example.com");
        denied.Headers.Add("Access-Control-Request-Method", "GET");
        using var no = await client.SendAsync(denied);

        Assert.Equal(HttpStatusCode.NoContent, ok.StatusCode);
        Assert.Equal("https://app.example.com", ok.Headers.GetValues("Access-Control-Allow-Origin").Single());
        Assert.Contains("Last-Event-ID", string.Join(",", ok.Headers.GetValues("Access-Control-Allow-Headers")), StringComparison.OrdinalIgnoreCase);
        Assert.False(no.Headers.Contains("Access-Control-Allow-Origin"));
    }

    [Theory]
    [InlineData("Sluice:Heartbeat", "00:00:00", "Sluice:Heartbeat")]
    [InlineData("Sluice:Limits:SubscriberBufferEvents", "1", "Sluice:Limits:SubscriberBufferEvents")]
    [InlineData("Sluice:Cors:Origins:0", "*", "Sluice:Cors:Origins:0")]
    [InlineData("Sluice:Store", "postgres", "Sluice:Store")]
    // A provider pipeline setting out of Polly's bounds stops the start, instead of failing the first generation.
    [InlineData("Sluice:Providers:p:TotalTimeout", "00:00:00", "Sluice:Providers:p:TotalTimeout")]
    [InlineData("Sluice:Providers:p:Retry:MaxRetries", "11", "Sluice:Providers:p:Retry:MaxRetries")]
    [InlineData("Sluice:Providers:p:Retry:Delay", "-00:00:01", "Sluice:Providers:p:Retry:MaxRetries")]
    [InlineData("Sluice:Providers:p:CircuitBreaker:FailureRatio", "0", "Sluice:Providers:p:CircuitBreaker")]
    [InlineData("Sluice:Providers:p:CircuitBreaker:MinimumThroughput", "1", "Sluice:Providers:p:CircuitBreaker")]
    [InlineData("Sluice:Providers:p:CircuitBreaker:BreakDuration", "00:00:00.1", "Sluice:Providers:p:CircuitBreaker")]
    [InlineData("Sluice:Providers:p:Simulate:FailRate", "1.5", "Sluice:Providers:p:Simulate:FailRate")]
    public async Task InvalidConfiguration_StartFailsNamingTheKey(string key, string value, string named)
    {
        var ex = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await using var server = await SluiceTestServer.StartAsync("memory", new Dictionary<string, string> { [key] = value });
        });

        Assert.Contains(named, ex.Message, StringComparison.Ordinal);
    }
}
