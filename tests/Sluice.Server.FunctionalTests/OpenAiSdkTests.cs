using System.ClientModel;
using System.Net.ServerSentEvents;
using System.Text;
using System.Text.Json;
using OpenAI;
using OpenAI.Chat;
using Sluice.Testing;

namespace Sluice.Server.FunctionalTests;

/// <summary>The official OpenAI .NET SDK, unmodified, pointed at Sluice's <c>/v1/chat/completions</c>.</summary>
public sealed class OpenAiSdkTests : IAsyncLifetime
{
    private FakeUpstream _upstream = null!;
    private SluiceTestServer _server = null!;

    public async Task InitializeAsync()
    {
        _upstream = await FakeUpstream.StartAsync();
        _server = await SluiceTestServer.StartAsync("memory", new Dictionary<string, string>
        {
            ["Sluice:Providers:openai:Type"] = "openai",
            ["Sluice:Providers:openai:BaseUrl"] = new Uri(_upstream.BaseAddress, "/v1").ToString(),
            ["Sluice:Providers:openai:ApiKey"] = "sk-upstream",
            ["Sluice:Providers:broken:Type"] = "simulated",
            ["Sluice:Providers:broken:Simulate:Fail"] = "mid_stream",
            ["Sluice:Providers:broken:Simulate:OutputTokens"] = "10",
            ["Sluice:Providers:broken:Simulate:TokensPerSecond"] = "0",
            ["Sluice:Providers:slow:Type"] = "simulated",
            ["Sluice:Providers:slow:Simulate:TtftMs"] = "0",
            ["Sluice:Providers:slow:Simulate:TokensPerSecond"] = "20",
            ["Sluice:Providers:slow:Simulate:OutputTokens"] = "100000",
        });
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        await _upstream.DisposeAsync();
    }

    private ChatClient Sdk(string model) =>
        new(model, new ApiKeyCredential(SluiceTestServer.AdminKey), new OpenAIClientOptions { Endpoint = new Uri(_server.BaseAddress, "/v1") });

    [Fact]
    public async Task Streaming_ThroughSluice_YieldsTheGenerationsTokensAndUsage()
    {
        var text = new StringBuilder();
        ChatTokenUsage? usage = null;
        ChatFinishReason? finish = null;
        await foreach (var update in Sdk("simulated/default").CompleteChatStreamingAsync(
            [new UserChatMessage("stream through sluice")], new ChatCompletionOptions { MaxOutputTokenCount = 200 }))
        {
            foreach (var part in update.ContentUpdate)
            {
                text.Append(part.Text);
            }

            usage = update.Usage ?? usage;
            finish = update.FinishReason ?? finish;
        }

        Assert.Equal(ChatFinishReason.Stop, finish);
        Assert.Equal(text.ToString().Split(' ').Length, usage?.OutputTokenCount);
        // The same generation read through Sluice's own format has exactly these tokens.
        using var client = _server.CreateClient();
        var list = await client.GetJsonAsync("/v1/generations?limit=1");
        var id = list.GetProperty("data")[0].GetProperty("id").GetString()!;
        Assert.Equal(GenerationApi.Text(await client.ReadEventsAsync(id)), text.ToString());
    }

    [Fact]
    public async Task NonStreaming_ThroughSluice_ReturnsTheCompletion()
    {
        ChatCompletion completion = await Sdk("simulated/default").CompleteChatAsync([new UserChatMessage("whole answer")]);

        Assert.Equal(ChatFinishReason.Stop, completion.FinishReason);
        Assert.Equal(completion.Content[0].Text.Split(' ').Length, completion.Usage.OutputTokenCount);
        Assert.EndsWith(".", completion.Content[0].Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Streaming_UpstreamToolCallDeltas_ReachTheSdkAsToolCallUpdates()
    {
        var name = "";
        var arguments = new StringBuilder();
        ChatFinishReason? finish = null;
        await foreach (var update in Sdk("openai/gpt-tools").CompleteChatStreamingAsync([new UserChatMessage("weather in Paris?")]))
        {
            foreach (var call in update.ToolCallUpdates)
            {
                name += call.FunctionName;
                arguments.Append(call.FunctionArgumentsUpdate?.ToString());
            }

            finish = update.FinishReason ?? finish;
        }

        Assert.Equal("get_weather", name);
        Assert.Equal("Paris", JsonDocument.Parse(arguments.ToString()).RootElement.GetProperty("city").GetString());
        Assert.Equal(ChatFinishReason.ToolCalls, finish);
    }

    [Fact]
    public async Task Streaming_AFailedGeneration_ThrowsInTheSdk_AfterTheTokensItHad()
    {
        var text = new StringBuilder();
        var error = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await foreach (var update in Sdk("broken/default").CompleteChatStreamingAsync([new UserChatMessage("fail midway")]))
            {
                foreach (var part in update.ContentUpdate)
                {
                    text.Append(part.Text);
                }

                Assert.Null(update.FinishReason);
            }
        });

        Assert.IsNotType<Xunit.Sdk.XunitException>(error, exactMatch: false);
        Assert.Equal(5, text.ToString().Split(' ').Length);
    }

    [Fact]
    public async Task Streaming_AFailedGeneration_OnTheWire_EndsWithOpenAisErrorChunk_AndNoDone()
    {
        using var client = _server.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = new StringContent("""{"model":"broken/default","stream":true,"messages":[{"role":"user","content":"wire"}]}""", Encoding.UTF8, "application/json"),
        };

        // The response is cut after the error chunk: the read ends in a transport error, after every chunk.
        var items = await ReadCutAsync(client, request);

        var error = JsonDocument.Parse(items[^1].Data).RootElement.GetProperty("error");
        Assert.Equal("provider_unavailable", error.GetProperty("code").GetString());
        Assert.Equal("server_error", error.GetProperty("type").GetString());
        Assert.False(string.IsNullOrEmpty(error.GetProperty("message").GetString()));
    }

    [Fact]
    public async Task Streaming_ACancelledGeneration_ThrowsInTheSdk_NeverLooksFinished()
    {
        using var client = _server.CreateClient();
        var error = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            var cancelled = false;
            await foreach (var update in Sdk("slow/default").CompleteChatStreamingAsync([new UserChatMessage("cancel me")]))
            {
                Assert.Null(update.FinishReason);
                if (!cancelled && update.ContentUpdate.Count > 0)
                {
                    cancelled = true;
                    await CancelRunningAsync(client, "cancel me");
                }
            }
        });

        Assert.IsNotType<Xunit.Sdk.XunitException>(error, exactMatch: false);
        // On the wire, resumed in OpenAI's format: the cancelled end is an error chunk, not a finish.
        var id = (await client.GetJsonAsync("/v1/generations?limit=1")).GetProperty("data")[0].GetProperty("id").GetString()!;
        var last = (await ReadCutAsync(client, $"/v1/generations/{id}/events?format=openai"))[^1];
        Assert.Equal("generation_cancelled", JsonDocument.Parse(last.Data).RootElement.GetProperty("error").GetProperty("code").GetString());
    }

    private static async Task<List<SseItem<string>>> ReadCutAsync(HttpClient client, string path)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        return await ReadCutAsync(client, request);
    }

    /// <summary>Every item of a response that must end cut (a transport error), never with [DONE].</summary>
    private static async Task<List<SseItem<string>>> ReadCutAsync(HttpClient client, HttpRequestMessage request)
    {
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        await Api.EnsureAsync(response, 200);
        var items = new List<SseItem<string>>();
        await using var stream = await response.Content.ReadAsStreamAsync();
        await Assert.ThrowsAnyAsync<IOException>(async () =>
        {
            await foreach (var item in SseParser.Create(stream).EnumerateAsync())
            {
                items.Add(item);
            }
        });
        Assert.DoesNotContain(items, i => i.Data == "[DONE]");
        return items;
    }

    [Fact]
    public async Task NonStreaming_ACancelledGeneration_IsAnErrorStatusInTheSdk()
    {
        using var client = _server.CreateClient();
        var call = Sdk("slow/default").CompleteChatAsync([new UserChatMessage("cancel me whole")]);
        await CancelRunningAsync(client, "cancel me whole");

        var error = await Assert.ThrowsAsync<ClientResultException>(() => call);

        Assert.Equal(409, error.Status);
        Assert.Contains("generation_cancelled", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NonStreaming_AFailedGeneration_IsAnErrorStatusInTheSdk()
    {
        var error = await Assert.ThrowsAsync<ClientResultException>(() => Sdk("broken/default").CompleteChatAsync([new UserChatMessage("fail whole")]));

        Assert.Equal(502, error.Status);
        Assert.Contains("provider_unavailable", error.Message, StringComparison.Ordinal);
    }

    /// <summary>Cancels this test's generation once it runs (found by its prompt's model among the running ones).</summary>
    private static async Task CancelRunningAsync(HttpClient client, string prompt)
    {
        for (var attempt = 0; attempt < 2000; attempt++)
        {
            foreach (var generation in (await client.GetJsonAsync("/v1/generations?status=running&limit=100")).GetProperty("data").EnumerateArray())
            {
                if (generation.GetProperty("model").GetString() == "slow/default")
                {
                    using var cancel = await client.PostAsync($"/v1/generations/{generation.GetProperty("id").GetString()}/cancel", null);
                    await Api.EnsureAsync(cancel, 202);
                    return;
                }
            }

            await Task.Yield();
        }

        Assert.Fail("the generation of '" + prompt + "' never ran");
    }

    [Fact]
    public async Task BadRequest_FailsInTheSdkWithOpenAisMessage()
    {
        var options = new ChatCompletionOptions { MaxOutputTokenCount = 1_000_000 };

        var error = await Assert.ThrowsAsync<ClientResultException>(() => Sdk("simulated/default").CompleteChatAsync([new UserChatMessage("x")], options));

        Assert.Equal(400, error.Status);
        Assert.Contains("max_completion_tokens must be an integer from 1 to", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnknownModel_FailsInTheSdkWithOpenAisErrorShape()
    {
        var error = await Assert.ThrowsAsync<ClientResultException>(() => Sdk("nope/none").CompleteChatAsync([new UserChatMessage("x")]));

        Assert.Equal(404, error.Status);
        Assert.Contains("nope/none", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DroppedStream_ResumedThroughTheGenerationsEvents_HasNoRepeatedAndNoMissingToken()
    {
        using var client = _server.CreateClient();
        const string body = """{"model":"simulated/default","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"resume me"}],"simulate":{"output_tokens":60}}""";

        // First connection: read a few chunks, then drop it.
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        await Api.EnsureAsync(response, 200);
        var id = response.Headers.GetValues("X-Sluice-Generation-Id").Single();
        var seen = new List<SseItem<string>>();
        await using (var stream = await response.Content.ReadAsStreamAsync())
        {
            await foreach (var item in SseParser.Create(stream).EnumerateAsync())
            {
                seen.Add(item);
                if (seen.Count == 7)
                {
                    break;
                }
            }
        }

        // Resume in OpenAI's format from the last id seen; then read the whole stream again for reference.
        var resumed = await client.ReadEventsAsync(id, lastEventId: seen[^1].EventId, query: "?format=openai");
        var whole = await client.ReadEventsAsync(id, query: "?format=openai");

        Assert.Equal("[DONE]", resumed[^1].Data);
        Assert.Equal(Content(whole), Content(seen) + Content(resumed));
        var ids = seen.Concat(resumed).Where(i => i.EventId is not null).Select(i => long.Parse(i.EventId!, System.Globalization.CultureInfo.InvariantCulture)).Distinct().ToList();
        Assert.Equal(Enumerable.Range(1, ids.Count).Select(i => (long)i), ids);
        Assert.Equal(60, Content(whole).Split(' ').Length);
    }

    private static string Content(IEnumerable<SseItem<string>> items)
    {
        var text = new StringBuilder();
        foreach (var item in items)
        {
            if (item.Data == "[DONE]")
            {
                continue;
            }

            var chunk = JsonDocument.Parse(item.Data).RootElement;
            if (chunk.TryGetProperty("choices", out var choices) && choices.GetArrayLength() > 0
                && choices[0].GetProperty("delta").TryGetProperty("content", out var content))
            {
                text.Append(content.GetString());
            }
        }

        return text.ToString();
    }
}
