using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Sluice.Testing;

namespace Sluice.Client.Tests;

/// <summary>Sluice.Client against a live Sluice (Kestrel on 127.0.0.1), directly and through a proxy that breaks streams.</summary>
public sealed class LiveTests : IAsyncLifetime
{
    private const string TwoThousandTokens = """{"model":"simulated/default","messages":[{"role":"user","content":"long"}],"simulate":{"output_tokens":2000,"tokens_per_second":500}}""";

    private static readonly SluiceClientOptions Impatient = new()
    {
        Backoff = [TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(100)],
        HeartbeatTimeout = TimeSpan.FromSeconds(2),
        ConnectTimeout = TimeSpan.FromSeconds(5),
        MaxRetries = 20,
    };

    private readonly int _seed = Environment.GetEnvironmentVariable("SLUICE_PROXY_SEED") is { } s ? int.Parse(s, System.Globalization.CultureInfo.InvariantCulture) : Random.Shared.Next();
    private SluiceTestServer _server = null!;
    private HttpClient _direct = null!;

    public async Task InitializeAsync()
    {
        _server = await SluiceTestServer.StartAsync();
        _direct = _server.CreateClient();
    }

    public async Task DisposeAsync()
    {
        _direct.Dispose();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task TwoThousandTokens_ThroughAProxyThatCutsResetsAndStalls_EveryTokenOnceAndInOrder()
    {
        await using var proxy = new FaultyProxy(_server.BaseAddress, _seed);
        var client = new SluiceClient(Http(proxy.BaseAddress), Impatient);
        var id = (await _direct.CreateGenerationAsync(TwoThousandTokens)).GetProperty("id").GetString()!;

        var received = new List<SluiceEvent>();
        await foreach (var e in client.StreamGenerationAsync(id))
        {
            received.Add(e);
        }

        var stored = await StoredTokensAsync(id);
        var because = $"seed {_seed} (replay with SLUICE_PROXY_SEED), faults {proxy.Faults}";
        Assert.True(stored.Count == 2000, because);
        Assert.True(stored.SequenceEqual(received.OfType<TokenEvent>().Select(t => (t.Id!.Value, t.Text))), because);
        var ids = received.Select(e => e.Id!.Value).ToArray();
        Assert.True(ids.SequenceEqual(Enumerable.Range(1, ids.Length).Select(i => (long)i)), because);
        Assert.Equal("stop", Assert.IsType<DoneEvent>(received[^1]).FinishReason);
        var faults = proxy.Faults;
        Assert.True(faults.Cuts + faults.Resets + faults.Stalls >= 10, because);
        Assert.True(client.Reconnects >= 10, because);
    }

    [Fact]
    public async Task SluiceChatClient_ThroughTheFaultyProxy_ReturnsTheFullText_StreamingAndNot()
    {
        await using var proxy = new FaultyProxy(_server.BaseAddress, _seed);
        IChatClient chat = new SluiceChatClient(new SluiceClient(Http(proxy.BaseAddress), Impatient));
        var options = new ChatOptions { AdditionalProperties = new() { ["simulate"] = new Dictionary<string, int> { ["output_tokens"] = 2000, ["tokens_per_second"] = 500 } } };
        var because = $"seed {_seed} (replay with SLUICE_PROXY_SEED)";

        var updates = await chat.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, "long")], options).ToListAsync();
        var streamed = string.Concat(updates.Select(u => u.Text));
        var first = updates[0].ResponseId!;
        Assert.Equal(string.Concat((await StoredTokensAsync(first)).Select(t => t.Text)), streamed);
        Assert.Equal(ChatFinishReason.Stop, updates[^1].FinishReason);

        var response = await chat.GetResponseAsync([new ChatMessage(ChatRole.User, "long")], options);
        Assert.True(string.Concat((await StoredTokensAsync(response.ResponseId!)).Select(t => t.Text)) == response.Text, because);
        Assert.Equal(ChatFinishReason.Stop, response.FinishReason);
        Assert.Equal(2000, response.Usage!.OutputTokenCount);
        Assert.True(response.Usage.InputTokenCount > 0);
    }

    [Fact]
    public async Task SluiceChatClient_ACancelledGeneration_IsNeverStop_AndLengthIsLength()
    {
        IChatClient chat = new SluiceChatClient(new SluiceClient(Http(_server.BaseAddress)));
        var limited = await chat.GetResponseAsync([new ChatMessage(ChatRole.User, "hi")], new ChatOptions
        {
            MaxOutputTokens = 3,
            AdditionalProperties = new() { ["simulate"] = new Dictionary<string, int> { ["output_tokens"] = 50, ["tokens_per_second"] = 0 } },
        });
        Assert.Equal(ChatFinishReason.Length, limited.FinishReason);

        var slow = new ChatOptions { AdditionalProperties = new() { ["simulate"] = new Dictionary<string, int> { ["output_tokens"] = 100000, ["tokens_per_second"] = 20 } } };
        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in chat.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, "slow")], slow))
        {
            updates.Add(update);
            if (updates.Count == 2)
            {
                await new SluiceClient(_direct).CancelAsync(update.ResponseId!);
            }
        }

        Assert.Equal(SluiceChatClient.Cancelled, updates[^1].FinishReason);
        Assert.NotEqual(ChatFinishReason.Stop, updates[^1].FinishReason);
    }

    [Fact]
    public async Task Api_CreateGetCancelPublishAndTokens_AgainstLiveSluice()
    {
        var client = new SluiceClient(Http(_server.BaseAddress));
        var created = await client.CreateGenerationRequestAsync("idem-1");
        var again = await client.CreateGenerationRequestAsync("idem-1");
        Assert.Equal((created.Id, "queued"), (again.Id, created.Status));
        Assert.StartsWith("gen_", created.Id, StringComparison.Ordinal);
        Assert.Contains("access_token=", created.EventsUrl, StringComparison.Ordinal);

        await client.CancelAsync(created.Id);
        var events = await client.StreamGenerationAsync(created.Id).ToListAsync();
        Assert.Equal("cancelled", Assert.IsType<DoneEvent>(events[^1]).FinishReason);
        var record = await Eventually.ValueAsync(() => client.GetGenerationAsync(created.Id), g => g.Status == "cancelled");
        Assert.Equal(("cancelled", created.Id), (record.FinishReason, record.Id));

        var stream = $"client-{Guid.NewGuid():N}";
        Assert.Equal(1, await client.PublishAsync(stream, SluicePublishEvent.Create("token", new { text = "a" })));
        Assert.Equal([2L, 3L], await client.PublishBatchAsync(stream, [SluicePublishEvent.Create("x-progress", new { pct = 50 }), SluicePublishEvent.Create("done", new { finish_reason = "stop" })]));
        var token = await client.CreateStreamTokenAsync(stream, TimeSpan.FromMinutes(2));
        Assert.InRange(token.ExpiresAt, DateTimeOffset.UtcNow.AddSeconds(60), DateTimeOffset.UtcNow.AddSeconds(180));

        // The token alone (no key) reads the stream, as a browser would.
        var anonymous = new SluiceClient(new HttpClient { BaseAddress = _server.BaseAddress });
        var read = await anonymous.StreamAsync(token.EventsUrl).ToListAsync();
        Assert.Equal(["token", "x-progress", "done"], read.Select(e => e.Type));
        Assert.Equal(50, Assert.IsType<CustomEvent>(read[1]).Data.GetProperty("pct").GetInt32());
        Assert.Contains("access_token=", (await client.CreateGenerationTokenAsync(created.Id)).EventsUrl, StringComparison.Ordinal);

        var closed = await Assert.ThrowsAsync<SluiceApiException>(() => client.PublishAsync(stream, SluicePublishEvent.Create("token", new { text = "late" })));
        Assert.Equal(HttpStatusCode.Conflict, closed.StatusCode);
        var missing = await Assert.ThrowsAsync<SluiceApiException>(() => client.GetGenerationAsync("gen_missing"));
        Assert.Equal((HttpStatusCode.NotFound, "not_found"), (missing.StatusCode, missing.Code));
        var bad = await Assert.ThrowsAsync<SluiceApiException>(() => client.CreateGenerationAsync(new SluiceGenerationRequest { Model = "" }));
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.NotNull(bad.Code);
    }

    [Fact]
    public async Task AddSluiceClient_ResolvesTheClientAndAnIChatClient_AndAMissingBaseAddressFailsValidation()
    {
        var services = new ServiceCollection();
        services.AddSluiceClient(o =>
        {
            o.BaseAddress = _server.BaseAddress;
            o.ApiKey = SluiceTestServer.AdminKey;
        });
        await using var provider = services.BuildServiceProvider();
        var response = await provider.GetRequiredService<IChatClient>().GetResponseAsync("hello",
            new ChatOptions { AdditionalProperties = new() { ["simulate"] = new Dictionary<string, int> { ["output_tokens"] = 5, ["tokens_per_second"] = 0 } } });
        Assert.Equal(ChatFinishReason.Stop, response.FinishReason);
        Assert.Equal(5, response.Usage!.OutputTokenCount);
        Assert.Equal("sluice", provider.GetRequiredService<IChatClient>().GetService<ChatClientMetadata>()!.ProviderName);

        var broken = new ServiceCollection();
        broken.AddSluiceClient(o => o.ApiKey = "k");
        await using var brokenProvider = broken.BuildServiceProvider();
        Assert.Throws<OptionsValidationException>(() => brokenProvider.GetRequiredService<SluiceClient>());
    }

    private async Task<List<(long Id, string Text)>> StoredTokensAsync(string id) =>
        [.. (await _direct.ReadEventsAsync(id)).Where(i => i.EventType == "token").Select(i => (long.Parse(i.EventId!, System.Globalization.CultureInfo.InvariantCulture),
            JsonDocument.Parse(i.Data).RootElement.GetProperty("text").GetString()!))];

    private static HttpClient Http(Uri baseAddress)
    {
        var http = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { BaseAddress = baseAddress, Timeout = Timeout.InfiniteTimeSpan };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", SluiceTestServer.AdminKey);
        return http;
    }
}

internal static class LiveRequests
{
    public static Task<SluiceGeneration> CreateGenerationRequestAsync(this SluiceClient client, string idempotencyKey) =>
        client.CreateGenerationAsync(new SluiceGenerationRequest
        {
            Model = "simulated/default",
            Messages = [new SluiceMessage("user", "slow")],
            AdditionalProperties = new Dictionary<string, JsonElement> { ["simulate"] = JsonSerializer.SerializeToElement(new { output_tokens = 100000, tokens_per_second = 20 }) },
        }, idempotencyKey);
}
