using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Sluice.Testing;

namespace Sluice.Server.FunctionalTests;

/// <summary>API.md sections 4 and 5 on the simulated provider, against a real Kestrel and SQLite.</summary>
public sealed class GenerationsTests : IAsyncLifetime
{
    private SluiceTestServer _server = null!;
    private HttpClient _client = null!;

    public async Task InitializeAsync()
    {
        _server = await SluiceTestServer.StartAsync(settings: new Dictionary<string, string>
        {
            ["Sluice:Providers:flaky:Type"] = "simulated",
            ["Sluice:Providers:flaky:Simulate:Fail"] = "before_first_token",
            ["Sluice:Providers:stuck:Type"] = "simulated",
            ["Sluice:Providers:stuck:IdleTimeout"] = "00:00:00.300",
            ["Sluice:Providers:stuck:Simulate:TtftMs"] = "0",
            ["Sluice:Providers:stuck:FirstTokenTimeout"] = "00:00:00.300",
            ["Sluice:Providers:sleepy:Type"] = "simulated",
            ["Sluice:Providers:sleepy:Simulate:TtftMs"] = "600000",
            ["Sluice:Providers:sleepy:FirstTokenTimeout"] = "00:00:00.300",
            ["Sluice:Models:impatient:Chain:0"] = "sleepy/default",
            ["Sluice:Models:impatient:Chain:1"] = "simulated/default",
            ["Sluice:Models:resilient:Chain:0"] = "flaky/default",
            ["Sluice:Models:resilient:Chain:1"] = "simulated/default",
            ["Sluice:Generations:MaxPromptChars"] = "1000",
        });
        _client = _server.CreateClient();
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task Create_Answers202WithLocationAndABrowserReadyEventsUrl()
    {
        using var response = await _client.PostJsonAsync("/v1/generations", """{"model":"simulated/default","messages":[{"role":"user","content":"hello"}]}""");

        await Api.EnsureAsync(response, 202);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        var id = body.GetProperty("id").GetString()!;
        Assert.StartsWith("gen_", id, StringComparison.Ordinal);
        Assert.Equal("queued", body.GetProperty("status").GetString());
        Assert.Equal($"/v1/generations/{id}", response.Headers.Location?.OriginalString);
        var eventsUrl = new Uri(body.GetProperty("events_url").GetString()!);
        Assert.Contains("access_token=", eventsUrl.Query, StringComparison.Ordinal);

        // The URL works with no header at all, as EventSource uses it.
        using var browser = new HttpClient { BaseAddress = _server.BaseAddress };
        var items = await browser.ReadEventsAsync(id, query: eventsUrl.Query);
        Assert.Equal("done", items[^1].EventType);
        Assert.NotEmpty(GenerationApi.Text(items));
    }

    [Fact]
    public async Task Generation_StartedWithNobodyConnected_IsFullyReplayedAfterItEnded()
    {
        var id = (await _client.CreateGenerationAsync("""{"model":"simulated/default","messages":[{"role":"user","content":"replay me"}],"simulate":{"output_tokens":40}}""")).GetProperty("id").GetString()!;
        var record = await WaitForRecordAsync(id, "succeeded");

        var items = await _client.ReadEventsAsync(id);

        Assert.Equal(41, items.Count);
        Assert.Equal(Enumerable.Range(1, 41).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)), items.Select(i => i.EventId));
        Assert.Equal(40, items.Count(i => i.EventType == "token"));
        var done = JsonDocument.Parse(items[^1].Data).RootElement;
        Assert.Equal("done", items[^1].EventType);
        Assert.Equal("stop", done.GetProperty("finish_reason").GetString());
        Assert.Equal(40, done.GetProperty("usage").GetProperty("output_tokens").GetInt64());
        Assert.Equal("simulated", done.GetProperty("provider").GetString());
        Assert.Equal("default", done.GetProperty("model").GetString());
        Assert.True(done.GetProperty("e2e_ms").GetInt64() >= done.GetProperty("ttft_ms").GetInt64());
        Assert.Equal(41, record.GetProperty("last_event_id").GetInt64());
        Assert.Equal(40, record.GetProperty("usage").GetProperty("output_tokens").GetInt64());
        Assert.Equal("stop", record.GetProperty("finish_reason").GetString());

        // A client that has everything is told so: 204, and a browser stops reconnecting.
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/v1/generations/{id}/events");
        request.Headers.Add("Last-Event-ID", "41");
        using var again = await _client.SendAsync(request);
        Assert.Equal(HttpStatusCode.NoContent, again.StatusCode);
    }

    [Fact]
    public async Task Simulated_SameMessages_GiveTheSameTextEveryTime()
    {
        const string body = """{"model":"simulated/default","messages":[{"role":"user","content":"deterministic"}],"simulate":{"output_tokens":12}}""";
        var first = (await _client.CreateGenerationAsync(body)).GetProperty("id").GetString()!;
        var second = (await _client.CreateGenerationAsync(body)).GetProperty("id").GetString()!;

        Assert.Equal(GenerationApi.Text(await _client.ReadEventsAsync(first)), GenerationApi.Text(await _client.ReadEventsAsync(second)));
    }

    [Fact]
    public async Task AcceptEventStream_OnCreate_AnswersWithTheStreamItself()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/generations")
        {
            Content = new StringContent("""{"model":"simulated/default","messages":[{"role":"user","content":"inline"}],"simulate":{"output_tokens":5}}""", System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.Accept.ParseAdd("text/event-stream");

        using var response = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var id = response.Headers.GetValues("X-Sluice-Generation-Id").Single();
        var text = await response.Content.ReadAsStringAsync();
        Assert.StartsWith("retry: 1000\n\n", text, StringComparison.Ordinal);
        Assert.Equal(5, text.Split("event: token\n").Length - 1);
        Assert.Contains("event: done\n", text, StringComparison.Ordinal);
        Assert.Equal("succeeded", (await WaitForRecordAsync(id, "succeeded")).GetProperty("status").GetString());
    }

    [Fact]
    public async Task MidStreamFailure_WritesTokensThenRetryableError_NeverDone_RecordFailed()
    {
        var id = (await _client.CreateGenerationAsync(
            """{"model":"simulated/default","messages":[{"role":"user","content":"fail"}],"simulate":{"output_tokens":10,"fail":"mid_stream","fail_after_tokens":3}}""")).GetProperty("id").GetString()!;

        var items = await _client.ReadEventsAsync(id);

        Assert.Equal(["token", "token", "token", "error"], items.Select(i => i.EventType));
        var error = JsonDocument.Parse(items[^1].Data).RootElement;
        Assert.Equal("provider_unavailable", error.GetProperty("code").GetString());
        Assert.True(error.GetProperty("retryable").GetBoolean());
        var record = await WaitForRecordAsync(id, "failed");
        Assert.Equal("provider_unavailable", record.GetProperty("error").GetProperty("code").GetString());
        Assert.NotEqual("stop", record.GetProperty("finish_reason").ValueKind == JsonValueKind.String ? record.GetProperty("finish_reason").GetString() : null);
    }

    [Fact]
    public async Task ProviderThatGoesSilentAfterTheFirstToken_EndsWithRetryableTimeoutError()
    {
        var id = (await _client.CreateGenerationAsync(
            """{"model":"stuck/default","messages":[{"role":"user","content":"hang"}],"simulate":{"output_tokens":10,"fail":"hang","fail_after_tokens":2}}""")).GetProperty("id").GetString()!;

        var items = await _client.ReadEventsAsync(id);

        Assert.Equal(["token", "token", "error"], items.Select(i => i.EventType));
        var error = JsonDocument.Parse(items[^1].Data).RootElement;
        Assert.Equal("provider_timeout", error.GetProperty("code").GetString());
        Assert.True(error.GetProperty("retryable").GetBoolean());
    }

    [Fact]
    public async Task FailureBeforeTheFirstToken_FallsBackToTheNextProviderOfTheChain()
    {
        var id = (await _client.CreateGenerationAsync("""{"model":"resilient","messages":[{"role":"user","content":"fall back"}]}""")).GetProperty("id").GetString()!;

        var items = await _client.ReadEventsAsync(id);

        Assert.Equal("done", items[^1].EventType);
        Assert.DoesNotContain(items, i => i.EventType == "error");
        Assert.Equal("simulated", JsonDocument.Parse(items[^1].Data).RootElement.GetProperty("provider").GetString());
        var record = await WaitForRecordAsync(id, "succeeded");
        Assert.Equal("simulated", record.GetProperty("provider").GetString());
        Assert.Equal("resilient", record.GetProperty("model").GetString());
    }

    [Fact]
    public async Task FirstTokenTimeout_MovesTheGenerationToTheFallback_BeforeAnyTokenWasWritten()
    {
        var id = (await _client.CreateGenerationAsync("""{"model":"impatient","messages":[{"role":"user","content":"wake up"}]}""")).GetProperty("id").GetString()!;

        var items = await _client.ReadEventsAsync(id);

        Assert.Equal("done", items[^1].EventType);
        Assert.DoesNotContain(items, i => i.EventType == "error");
        Assert.Equal("simulated", JsonDocument.Parse(items[^1].Data).RootElement.GetProperty("provider").GetString());
        using var admin = _server.CreateClient();
        var trace = Assert.Single((await admin.GetJsonAsync($"/v1/ops/traces?keyword={id}")).GetProperty("data").EnumerateArray());
        Assert.Equal("provider_timeout", trace.GetProperty("kind").GetString());
    }

    [Fact]
    public async Task Cancel_RunningGeneration_EndsWithDoneCancelled()
    {
        var id = (await _client.CreateGenerationAsync(
            """{"model":"simulated/default","messages":[{"role":"user","content":"slow"}],"simulate":{"output_tokens":100000,"tokens_per_second":20}}""")).GetProperty("id").GetString()!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var sse = await SseClient.ConnectAsync(_client, $"/v1/generations/{id}/events", cancellationToken: timeout.Token);
        var first = await sse.NextAsync();
        Assert.Equal("token", first?.EventType);

        using var cancel = await _client.PostAsync($"/v1/generations/{id}/cancel", null);

        Assert.Equal(HttpStatusCode.Accepted, cancel.StatusCode);
        SseItemOrNull last = default;
        await foreach (var item in sse.ReadAllAsync(timeout.Token))
        {
            last = new(item.EventType, item.Data);
        }

        Assert.Equal("done", last.Type);
        Assert.Equal("cancelled", JsonDocument.Parse(last.Data!).RootElement.GetProperty("finish_reason").GetString());
        var record = await WaitForRecordAsync(id, "cancelled");
        Assert.Equal("cancelled", record.GetProperty("finish_reason").GetString());

        using var again = await _client.PostAsync($"/v1/generations/{id}/cancel", null);
        Assert.Equal("generation_finished", (await again.ProblemAsync(409)).GetProperty("code").GetString());
    }

    [Fact]
    public async Task IdempotencyKey_SameBodyGivesTheSameGeneration_AnotherBodyIs422()
    {
        const string body = """{"model":"simulated/default","messages":[{"role":"user","content":"once"}]}""";
        var first = await _client.CreateGenerationAsync(body, "order-42");
        var second = await _client.CreateGenerationAsync(body, "order-42");

        Assert.Equal(first.GetProperty("id").GetString(), second.GetProperty("id").GetString());

        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/generations")
        {
            Content = new StringContent("""{"model":"simulated/default","messages":[{"role":"user","content":"twice"}]}""", System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("Idempotency-Key", "order-42");
        using var conflict = await _client.SendAsync(request);
        Assert.Equal("idempotency_key_reused", (await conflict.ProblemAsync(422)).GetProperty("code").GetString());
        var list = await _client.GetJsonAsync("/v1/generations?limit=1000");
        Assert.Single(list.GetProperty("data").EnumerateArray(), g => g.GetProperty("id").GetString() == first.GetProperty("id").GetString());
    }

    [Fact]
    public async Task ResponseContract_FailingOutput_YieldsOnlySafeResponse_AtEverySubscriber()
    {
        const string body = """
            {"model":"simulated/default","messages":[{"role":"user","content":"json please"}],
             "response_contract":{"type":"json_schema","schema":{"type":"object","required":["answer"],"properties":{"answer":{"type":"integer"}}}},
             "simulate":{"text":"{\"answer\": \"not a number\"}","tokens_per_second":50}}
            """;
        var id = (await _client.CreateGenerationAsync(body)).GetProperty("id").GetString()!;

        var live = _client.ReadEventsAsync(id);
        var items = await live;
        var resumed = await _client.ReadEventsAsync(id, lastEventId: "0");

        foreach (var seen in new[] { items, resumed })
        {
            var only = Assert.Single(seen);
            Assert.Equal("safe_response", only.EventType);
            Assert.Equal("contract_violation", JsonDocument.Parse(only.Data).RootElement.GetProperty("reason").GetString());
        }

        var record = await WaitForRecordAsync(id, "failed");
        Assert.Equal("contract_violation", record.GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task ResponseContract_CatastrophicPattern_EndsAsContractViolation_NotAStuckWorker()
    {
        // ^(a+)+$ against 36 a's and a '!' is 2^36 backtracking steps for an unguarded engine.
        var body = JsonSerializer.Serialize(new
        {
            model = "simulated/default",
            messages = new[] { new { role = "user", content = "json please" } },
            response_contract = new { type = "json_schema", schema = new { type = "string", pattern = "^(a+)+$" } },
            simulate = new { text = JsonSerializer.Serialize(new string('a', 36) + "!") },
        });
        var id = (await _client.CreateGenerationAsync(body)).GetProperty("id").GetString()!;

        var only = Assert.Single(await _client.ReadEventsAsync(id));

        Assert.Equal("safe_response", only.EventType);
        var record = await WaitForRecordAsync(id, "failed");
        Assert.Equal("contract_violation", record.GetProperty("error").GetProperty("code").GetString());
        Assert.Contains("time budget", record.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);

        // The worker is free: the next generation runs to done.
        var next = (await _client.CreateGenerationAsync("""{"model":"simulated/default","messages":[{"role":"user","content":"hi"}]}""")).GetProperty("id").GetString()!;
        Assert.Equal("done", (await _client.ReadEventsAsync(next))[^1].EventType);
    }

    [Fact]
    public async Task ResponseContract_SatisfiedOutput_IsReleasedAsTokensThenDone()
    {
        const string body = """
            {"model":"simulated/default","messages":[{"role":"user","content":"json please"}],
             "response_contract":{"type":"json_schema","schema":{"type":"object","required":["answer"],"properties":{"answer":{"type":"integer"}}}},
             "simulate":{"text":"{\"answer\": 42}"}}
            """;
        var id = (await _client.CreateGenerationAsync(body)).GetProperty("id").GetString()!;

        var items = await _client.ReadEventsAsync(id);

        Assert.Equal("{\"answer\": 42}", GenerationApi.Text(items));
        Assert.Equal("done", items[^1].EventType);
    }

    [Theory]
    [InlineData("""{"model":"nope/x","messages":[{"role":"user","content":"x"}]}""", "unknown_model")]
    [InlineData("""{"model":"simulated/unknown","messages":[{"role":"user","content":"x"}]}""", "unknown_model")]
    [InlineData("""{"model":"simulated/default","messages":[]}""", "empty_messages")]
    [InlineData("""{"model":"simulated/default"}""", "empty_messages")]
    [InlineData("""{"model":"simulated/default","messages":[{"role":"wizard","content":"x"}]}""", "invalid_messages")]
    [InlineData("""{"model":"simulated/default","messages":[{"role":"user","content":"x"}],"response_contract":{"type":"json_schema","schema":{"type":5}}}""", "invalid_response_contract")]
    [InlineData("""{"model":"simulated/default","messages":[{"role":"user","content":"x"}],"response_contract":{"type":"json_schema","schema":{"$schema":"https://example.com/meta","type":"string"}}}""", "invalid_response_contract")]
    [InlineData("""{"model":"simulated/default","messages":[{"role":"user","content":"x"}],"response_contract":{"type":"json_schema","schema":{"pattern":"(unclosed"}}}""", "invalid_response_contract")]
    [InlineData("""{"model":"simulated/default","messages":[{"role":"user","content":"x"}],"simulate":{"fail":"sometimes"}}""", "invalid_simulate")]
    [InlineData("""{"model":"simulated/default","messages":[{"role":"user","content":"x"}],"max_tokens":0}""", "invalid_request")]
    [InlineData("""{"model":"simulated/default","prompt":{"id":"missing-prompt"}}""", "unknown_prompt")]
    [InlineData("""{"model":"simulated/default","messages":[{"role":"user","content":"x"}""", "invalid_json")]
    public async Task Create_BadInput_Answers400Problem_AndStartsNothing(string body, string code)
    {
        var before = (await _client.GetJsonAsync("/v1/generations?limit=1000")).GetProperty("data").GetArrayLength();

        using var response = await _client.PostJsonAsync("/v1/generations", body);

        Assert.Equal(code, (await response.ProblemAsync(400)).GetProperty("code").GetString());
        Assert.Equal(before, (await _client.GetJsonAsync("/v1/generations?limit=1000")).GetProperty("data").GetArrayLength());
    }

    [Fact]
    public async Task Create_BadInput_StoresNoGeneration()
    {
        var before = (await _client.GetJsonAsync("/v1/generations?limit=1000")).GetProperty("data").GetArrayLength();

        using var overlong = await _client.PostJsonAsync("/v1/generations", JsonSerializer.Serialize(new { model = "simulated/default", messages = new[] { new { role = "user", content = new string('x', 1001) } } }));
        using var simulateElsewhere = await _client.PostJsonAsync("/v1/generations", """{"model":"resilient","messages":[{"role":"user","content":"x"}],"simulate":{"output_tokens":1}}""");
        Assert.Equal("prompt_too_long", (await overlong.ProblemAsync(400)).GetProperty("code").GetString());

        // resilient's chain is all simulated, so simulate is allowed there; on another provider it is refused (ProvidersTests).
        await Api.EnsureAsync(simulateElsewhere, 202);
        Assert.Equal(before + 1, (await _client.GetJsonAsync("/v1/generations?limit=1000")).GetProperty("data").GetArrayLength());
    }

    [Fact]
    public async Task Prompts_VersionsApproveAndGenerateByReferenceWithVariables()
    {
        using var v1 = await _client.PostJsonAsync("/v1/prompts/greeting/versions", """{"template":"Say hello to {{name}}.","model":"simulated/default"}""");
        using var v2 = await _client.PostJsonAsync("/v1/prompts/greeting/versions", """{"template":"Greet {{ name }} warmly.","params":{"max_tokens":3}}""");
        await Api.EnsureAsync(v1, 201);
        Assert.Equal(2, (await v2.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("version").GetInt32());

        // No approved version yet: a reference without a version is refused.
        using var none = await _client.PostJsonAsync("/v1/generations", """{"prompt":{"id":"greeting","variables":{"name":"Ada"}},"model":"simulated/default"}""");
        Assert.Equal("unknown_prompt_version", (await none.ProblemAsync(400)).GetProperty("code").GetString());

        using var approve = await _client.PostAsync("/v1/prompts/greeting/versions/2/approve", null);
        await Api.EnsureAsync(approve, 200);
        var prompt = await _client.GetJsonAsync("/v1/prompts/greeting");
        Assert.Equal(2, prompt.GetProperty("active_version").GetInt32());
        Assert.Equal(2, prompt.GetProperty("versions").GetArrayLength());

        var id = (await _client.CreateGenerationAsync("""{"prompt":{"id":"greeting","variables":{"name":"Ada"}},"model":"simulated/default"}""")).GetProperty("id").GetString()!;
        var items = await _client.ReadEventsAsync(id);
        var record = await WaitForRecordAsync(id, "succeeded");
        Assert.Equal(2, record.GetProperty("prompt_version").GetInt32());
        Assert.Equal("length", JsonDocument.Parse(items[^1].Data).RootElement.GetProperty("finish_reason").GetString());
        Assert.Equal(3, items.Count(i => i.EventType == "token"));

        using var unknown = await _client.PostJsonAsync("/v1/generations", """{"prompt":{"id":"greeting","version":9,"variables":{"name":"Ada"}}}""");
        Assert.Equal("unknown_prompt_version", (await unknown.ProblemAsync(400)).GetProperty("code").GetString());
        using var missing = await _client.PostJsonAsync("/v1/generations", """{"prompt":{"id":"greeting","version":1}}""");
        Assert.Equal("missing_prompt_variable", (await missing.ProblemAsync(400)).GetProperty("code").GetString());
    }

    [Fact]
    public async Task Rollback_MakesTheNamedPromptVersionActiveForNewGenerations_AndIsAudited()
    {
        using (var v1 = await _client.PostJsonAsync("/v1/prompts/rolled/versions", """{"template":"Version one {{x}}","model":"simulated/default","params":{"max_tokens":2}}"""))
        using (var v2 = await _client.PostJsonAsync("/v1/prompts/rolled/versions", """{"template":"Version two {{x}}","model":"simulated/default","params":{"max_tokens":4}}"""))
        using (var approve = await _client.PostAsync("/v1/prompts/rolled/versions/2/approve", null))
        {
            await Api.EnsureAsync(approve, 200);
        }

        using var rollback = await RollbackAsync("""{"target_type":"prompt","target_id":"rolled","to_version":1,"reason":"v2 answers too long"}""", "rb-1");
        await Api.EnsureAsync(rollback, 200);

        Assert.Equal(1, (await _client.GetJsonAsync("/v1/prompts/rolled")).GetProperty("active_version").GetInt32());
        var id = (await _client.CreateGenerationAsync("""{"prompt":{"id":"rolled","variables":{"x":"y"}}}""")).GetProperty("id").GetString()!;
        Assert.Equal(2, (await _client.ReadEventsAsync(id)).Count(i => i.EventType == "token"));
        Assert.Equal(1, (await _client.WaitFinishedAsync(id)).GetProperty("prompt_version").GetInt32());
        var audit = (await _client.GetJsonAsync("/v1/ops/audit")).GetProperty("data").EnumerateArray().First(e => e.GetProperty("action").GetString() == "rollback.prompt");
        Assert.Equal("v2 answers too long", audit.GetProperty("reason").GetString());
        Assert.Equal(2, audit.GetProperty("before").GetProperty("active_version").GetInt32());
        Assert.Equal(1, audit.GetProperty("after").GetProperty("active_version").GetInt32());

        using var missingKey = await RollbackAsync("""{"target_type":"prompt","target_id":"rolled","to_version":1}""", null);
        using var unknownVersion = await RollbackAsync("""{"target_type":"prompt","target_id":"rolled","to_version":9}""", "rb-2");
        Assert.Equal("idempotency_key_required", (await missingKey.ProblemAsync(400)).GetProperty("code").GetString());
        await unknownVersion.ProblemAsync(404);
        Assert.Equal(1, (await _client.GetJsonAsync("/v1/prompts/rolled")).GetProperty("active_version").GetInt32());
    }

    private async Task<HttpResponseMessage> RollbackAsync(string body, string? key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/ops/rollbacks") { Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json") };
        if (key is not null)
        {
            request.Headers.Add("Idempotency-Key", key);
        }

        return await _client.SendAsync(request);
    }

    [Fact]
    public async Task Models_ListsModelsAndAliasesWithTheirChains()
    {
        var models = await _client.GetJsonAsync("/v1/models");

        Assert.Equal("list", models.GetProperty("object").GetString());
        var byId = models.GetProperty("data").EnumerateArray().ToDictionary(m => m.GetProperty("id").GetString()!);
        Assert.Equal(["simulated/default"], byId["simulated/default"].GetProperty("chain").EnumerateArray().Select(c => c.GetString()));
        Assert.Equal(["flaky/default", "simulated/default"], byId["resilient"].GetProperty("chain").EnumerateArray().Select(c => c.GetString()));
        Assert.Equal("model", byId["resilient"].GetProperty("object").GetString());
    }

    [Fact]
    public async Task OtherTenantsGeneration_AnswersExactlyLikeAMissingOne()
    {
        var id = (await _client.CreateGenerationAsync("""{"model":"simulated/default","messages":[{"role":"user","content":"mine"}]}""")).GetProperty("id").GetString()!;
        var (key, _) = await _client.CreateKeyAsync("other-tenant", "generate", "subscribe");
        using var other = _server.CreateClient(key);

        using var get = await other.GetAsync($"/v1/generations/{id}");
        using var events = await other.GetAsync($"/v1/generations/{id}/events");
        using var cancel = await other.PostAsync($"/v1/generations/{id}/cancel", null);
        using var missing = await other.GetAsync("/v1/generations/gen_aaaaaaaaaaaaaaaaaaaaaaaa");

        var expected = (await missing.ProblemAsync(404)).GetProperty("detail").GetString();
        foreach (var response in new[] { get, events, cancel })
        {
            Assert.Equal(expected, (await response.ProblemAsync(404)).GetProperty("detail").GetString());
        }
    }

    [Fact]
    public async Task Create_WithoutGenerateRole_Answers403()
    {
        var (key, _) = await _client.CreateKeyAsync("readers", "subscribe");
        using var reader = _server.CreateClient(key);

        using var response = await reader.PostJsonAsync("/v1/generations", """{"model":"simulated/default","messages":[{"role":"user","content":"x"}]}""");

        await response.ProblemAsync(403);
    }

    private async Task<JsonElement> WaitForRecordAsync(string id, string status)
    {
        var record = await _client.WaitFinishedAsync(id);
        Assert.Equal(status, record.GetProperty("status").GetString());
        return record;
    }

    private readonly record struct SseItemOrNull(string? Type, string? Data);
}
