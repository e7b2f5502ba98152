using System.Text.Json;
using Sluice.Testing;

namespace Sluice.Server.FunctionalTests;

/// <summary>
/// Sluice in front of local upstreams that speak OpenAI's and Anthropic's wire formats; Sluice talks to them
/// through the official SDKs (OpenAI via Microsoft.Extensions.AI.OpenAI, Anthropic's AsIChatClient).
/// </summary>
public sealed class ProvidersTests : IAsyncLifetime
{
    private const string UpstreamSecret = "sk-upstream-secret-do-not-log-0123456789";
    private FakeUpstream _upstream = null!;
    private SluiceTestServer _server = null!;
    private HttpClient _client = null!;

    public async Task InitializeAsync()
    {
        _upstream = await FakeUpstream.StartAsync();
        _server = await SluiceTestServer.StartAsync("memory", new Dictionary<string, string>
        {
            ["Sluice:Providers:openai:Type"] = "openai",
            ["Sluice:Providers:openai:BaseUrl"] = new Uri(_upstream.BaseAddress, "/v1").ToString(),
            ["Sluice:Providers:openai:ApiKey"] = UpstreamSecret,
            ["Sluice:Providers:claude:Type"] = "anthropic",
            ["Sluice:Providers:claude:BaseUrl"] = _upstream.BaseAddress.ToString().TrimEnd('/'),
            ["Sluice:Providers:claude:ApiKey"] = UpstreamSecret,
        });
        _client = _server.CreateClient();
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _server.DisposeAsync();
        await _upstream.DisposeAsync();
        Assert.DoesNotContain(_server.Logs.Lines, line => line.Contains(UpstreamSecret, StringComparison.Ordinal));
    }

    [Fact]
    public async Task OpenAiUpstream_TextChunksAndUsage_BecomeTokensAndDone()
    {
        var id = (await _client.CreateGenerationAsync("""{"model":"openai/gpt-text","messages":[{"role":"user","content":"hi"}],"max_tokens":50}""")).GetProperty("id").GetString()!;

        var items = await _client.ReadEventsAsync(id);

        Assert.Equal(FakeUpstream.OpenAiText, GenerationApi.Text(items));
        var done = JsonDocument.Parse(items[^1].Data).RootElement;
        Assert.Equal("done", items[^1].EventType);
        Assert.Equal("stop", done.GetProperty("finish_reason").GetString());
        Assert.Equal(12, done.GetProperty("usage").GetProperty("input_tokens").GetInt64());
        Assert.Equal(9, done.GetProperty("usage").GetProperty("output_tokens").GetInt64());
        Assert.Equal("openai", done.GetProperty("provider").GetString());
        Assert.Equal("gpt-text", done.GetProperty("model").GetString());
        var sent = Assert.Single(_upstream.Requests);
        Assert.Equal("Bearer " + UpstreamSecret, sent.Authorization);
        Assert.Equal("gpt-text", sent.Body.GetProperty("model").GetString());
        Assert.True(sent.Body.GetProperty("stream").GetBoolean());
    }

    [Fact]
    public async Task OpenAiUpstream_ToolCallDeltas_BecomeOneToolEventWithItsArguments()
    {
        var id = (await _client.CreateGenerationAsync("""{"model":"openai/gpt-tools","messages":[{"role":"user","content":"weather?"}]}""")).GetProperty("id").GetString()!;

        var items = await _client.ReadEventsAsync(id);

        var tool = JsonDocument.Parse(Assert.Single(items, i => i.EventType == "tool").Data).RootElement;
        Assert.Equal("call_FthC9qRpsL5kBpwwyw6c7j4k", tool.GetProperty("call_id").GetString());
        Assert.Equal("get_weather", tool.GetProperty("name").GetString());
        Assert.Equal("Paris", tool.GetProperty("arguments").GetProperty("city").GetString());
        Assert.Equal("Checking.", GenerationApi.Text(items));
        Assert.Equal("tool_calls", JsonDocument.Parse(items[^1].Data).RootElement.GetProperty("finish_reason").GetString());
    }

    [Fact]
    public async Task Cancel_CancelsTheUpstreamRequest_AndEndsWithDoneCancelled()
    {
        var id = (await _client.CreateGenerationAsync("""{"model":"openai/gpt-slow","messages":[{"role":"user","content":"hold"}]}""")).GetProperty("id").GetString()!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var sse = await SseClient.ConnectAsync(_client, $"/v1/generations/{id}/events", cancellationToken: timeout.Token);
        Assert.Equal("token", (await sse.NextAsync())?.EventType);

        using var cancel = await _client.PostAsync($"/v1/generations/{id}/cancel", null);
        await Api.EnsureAsync(cancel, 202);

        await _upstream.Aborted.Task.WaitAsync(timeout.Token);
        string? lastType = null, lastData = null;
        await foreach (var item in sse.ReadAllAsync(timeout.Token))
        {
            (lastType, lastData) = (item.EventType, item.Data);
        }

        Assert.Equal("done", lastType);
        Assert.Equal("cancelled", JsonDocument.Parse(lastData!).RootElement.GetProperty("finish_reason").GetString());
    }

    [Fact]
    public async Task AnthropicUpstream_MessageStream_BecomesTokensAndDone()
    {
        var id = (await _client.CreateGenerationAsync("""{"model":"claude/claude-sonnet-4-5","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"hi"}],"max_tokens":100}""")).GetProperty("id").GetString()!;

        var items = await _client.ReadEventsAsync(id);

        Assert.Equal(FakeUpstream.AnthropicText, GenerationApi.Text(items));
        var done = JsonDocument.Parse(items[^1].Data).RootElement;
        Assert.Equal("done", items[^1].EventType);
        Assert.Equal("stop", done.GetProperty("finish_reason").GetString());
        Assert.Equal(25, done.GetProperty("usage").GetProperty("input_tokens").GetInt64());
        Assert.Equal(15, done.GetProperty("usage").GetProperty("output_tokens").GetInt64());
        var sent = Assert.Single(_upstream.Requests);
        Assert.Equal("/v1/messages", sent.Path);
        // The SDK sends the key as x-api-key or as a bearer token, depending on its version.
        Assert.Contains(UpstreamSecret, new[] { sent.ApiKey, sent.Authorization.Replace("Bearer ", "", StringComparison.Ordinal) });
        Assert.Equal(100, sent.Body.GetProperty("max_tokens").GetInt32());
    }

    [Fact]
    public async Task AnthropicUpstream_OverloadedMidStream_EndsWithRetryableErrorAndNoDone()
    {
        var id = (await _client.CreateGenerationAsync("""{"model":"claude/claude-overloaded","messages":[{"role":"user","content":"hi"}]}""")).GetProperty("id").GetString()!;

        var items = await _client.ReadEventsAsync(id);

        Assert.Equal(["token", "token", "error"], items.Select(i => i.EventType));
        Assert.Equal("Hello from", GenerationApi.Text(items));
        var error = JsonDocument.Parse(items[^1].Data).RootElement;
        Assert.Equal("provider_unavailable", error.GetProperty("code").GetString());
        Assert.True(error.GetProperty("retryable").GetBoolean());
        Assert.Equal("failed", (await _client.WaitFinishedAsync(id)).GetProperty("status").GetString());
    }

    [Fact]
    public async Task Simulate_OnANonSimulatedProvider_Answers400AndStartsNothing()
    {
        using var response = await _client.PostJsonAsync("/v1/generations", """{"model":"openai/gpt-text","messages":[{"role":"user","content":"hi"}],"simulate":{"output_tokens":3}}""");

        Assert.Equal("simulate_not_supported", (await response.ProblemAsync(400)).GetProperty("code").GetString());
        Assert.Empty(_upstream.Requests);
    }
}
