using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Sluice.Testing;

namespace Sluice.Server.FunctionalTests;

/// <summary>
/// API.md section 1: malformed input is a 4xx, never a 5xx. Each case here answered 500 before the request layer
/// was typed (issue 12); each now names its field, and nothing is stored.
/// </summary>
public sealed class MalformedInputTests : IAsyncLifetime
{
    private const string User = """{"role":"user","content":"hi"}""";
    private SluiceTestServer _server = null!;
    private HttpClient _client = null!;

    public async Task InitializeAsync()
    {
        _server = await SluiceTestServer.StartAsync(store: "memory");
        _client = _server.CreateClient();
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _server.DisposeAsync();
    }

    [Fact]
    public Task ToolCallWithANumericId_IsRefusedInOpenAisShape() =>
        ChatRefusedAsync($$$"""{"model":"simulated/default","messages":[{"role":"assistant","tool_calls":[{"id":5,"type":"function","function":{"name":"f","arguments":"{}"}}]},{{{User}}}]}""",
            "messages[0].tool_calls[0].id");

    [Fact]
    public Task ToolCallThatIsNotAnObject_IsRefusedInOpenAisShape() =>
        ChatRefusedAsync($$$"""{"model":"simulated/default","messages":[{"role":"assistant","tool_calls":[1]},{{{User}}}]}""", "messages[0].tool_calls[0]");

    [Fact]
    public Task ToolThatIsANumber_IsRefusedInOpenAisShape() =>
        ChatRefusedAsync($$$"""{"model":"simulated/default","messages":[{{{User}}}],"tools":[1]}""", "tools[0]");

    [Fact]
    public Task ToolWithANumericDescription_IsRefusedInOpenAisShape() =>
        ChatRefusedAsync($$$"""{"model":"simulated/default","messages":[{{{User}}}],"tools":[{"type":"function","function":{"name":"f","description":5}}]}""",
            "tools[0].function.description");

    [Fact]
    public Task ResponseFormatWithANumericType_IsRefusedInOpenAisShape() =>
        ChatRefusedAsync($$$"""{"model":"simulated/default","messages":[{{{User}}}],"response_format":{"type":5}}""", "response_format.type");

    [Fact]
    public Task MaxTokensAsAString_IsRefusedInOpenAisShape() =>
        ChatRefusedAsync($$$"""{"model":"simulated/default","messages":[{{{User}}}],"max_tokens":"5"}""", "max_tokens");

    [Fact]
    public Task MaxTokensAsAString_IsRefusedOnGenerations() =>
        GenerationRefusedAsync($$$"""{"model":"simulated/default","messages":[{{{User}}}],"max_tokens":"5"}""", "invalid_request", "max_tokens");

    [Fact]
    public Task LoneSurrogateInMessageContent_IsRefusedOnGenerations() =>
        GenerationRefusedAsync("""{"model":"simulated/default","messages":[{"role":"user","content":"\ud800"}]}""", "invalid_messages", "messages[0].content");

    [Fact]
    public Task LoneSurrogateInMessageContent_IsRefusedInOpenAisShape() =>
        ChatRefusedAsync("""{"model":"simulated/default","messages":[{"role":"user","content":"\ud800"}]}""", "messages[0].content");

    [Fact]
    public async Task LoneSurrogateInAnEventType_IsRefused_AndTheStreamIsNotCreated()
    {
        using var response = await Tenant().PostJsonAsync("/v1/streams/surrogate-type/events", """{"type":"x-\ud800","data":{}}""");

        Assert.Equal("invalid_event_type", (await response.ProblemAsync(400)).GetProperty("code").GetString());
        using var stream = await Tenant().GetAsync("/v1/streams/surrogate-type");
        Assert.Equal(404, (int)stream.StatusCode);
    }

    [Fact]
    public async Task LoneSurrogateInEventData_IsRefused_AndNothingIsAppended()
    {
        var client = Tenant();
        await client.PublishAsync("surrogate-data", "token", new { text = "kept" });

        using var response = await client.PostJsonAsync("/v1/streams/surrogate-data/events", """{"type":"token","data":{"text":"\ud800"}}""");

        Assert.Equal("invalid_event_data", (await response.ProblemAsync(400)).GetProperty("code").GetString());
        Assert.Equal(1, (await client.GetJsonAsync("/v1/streams/surrogate-data")).GetProperty("last_id").GetInt64());
    }

    [Theory]
    [InlineData("text/plain")]
    [InlineData("application/x-www-form-urlencoded")]
    public async Task NonJsonContentType_IsReadAsJson_OnKeysStreamsAndAdmin(string contentType)
    {
        var client = Tenant();
        using var key = await client.PostAsync("/v1/admin/keys", Body("""{"tenant":"t1","roles":["publish"]}""", contentType));
        using var publish = await client.PostAsync("/v1/streams/form-encoded/events", Body("""{"type":"token","data":{"text":"a"}}""", contentType));
        using var limits = await _client.PutAsync("/v1/admin/limits", Body("""{"max_sse_connections":500}""", contentType));

        Assert.Equal((201, 201, 200), ((int)key.StatusCode, (int)publish.StatusCode, (int)limits.StatusCode));
    }

    [Fact]
    public async Task WrongTypeOnAnAdminBody_IsAProblemNamingTheField()
    {
        using var response = await _client.PutAsync("/v1/admin/limits", Body("""{"max_sse_connections":"many"}""", "application/x-www-form-urlencoded"));

        var problem = await response.ProblemAsync(400);
        Assert.Equal(("invalid_request", "max_sse_connections"), (problem.GetProperty("code").GetString(), problem.GetProperty("param").GetString()));
    }

    [Fact]
    public async Task FailuresBeforeTheEndpoint_AreInOpenAisShapeOnTheOpenAiSurface()
    {
        using var anonymous = _server.CreateClient(key: null);
        using var unauthorized = await anonymous.PostJsonAsync("/v1/chat/completions", $$$"""{"model":"simulated/default","messages":[{{{User}}}]}""");
        using var elsewhere = await anonymous.PostJsonAsync("/v1/generations", "{}");

        Assert.Equal(401, (int)unauthorized.StatusCode);
        Assert.Equal("application/json", unauthorized.Content.Headers.ContentType?.MediaType);
        var error = (await unauthorized.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error");
        Assert.Equal(("authentication_error", "unauthorized"), (error.GetProperty("type").GetString(), error.GetProperty("code").GetString()));
        Assert.Equal(JsonValueKind.Null, error.GetProperty("param").ValueKind);
        Assert.Equal("unauthorized", (await elsewhere.ProblemAsync(401)).GetProperty("code").GetString());
    }

    [Fact]
    public async Task IdempotencyKey_HasOneRuleOnEveryEndpointThatReadsIt()
    {
        var generation = $$$"""{"model":"simulated/default","messages":[{{{User}}}]}""";
        foreach (var (path, body) in new[] { ("/v1/generations", generation), ("/v1/chat/completions", generation), ("/v1/ops/rollbacks", "{}"), ("/v1/ops/llm/providers/simulated/kill-switch", "{}") })
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = Body(body, "application/json") };
            request.Headers.Add("X-Tenant-Key", "t1");
            request.Headers.TryAddWithoutValidation("Idempotency-Key", "has space");
            using var response = await _client.SendAsync(request);

            Assert.Equal(400, (int)response.StatusCode);
            var json = await response.Content.ReadFromJsonAsync<JsonElement>();
            var code = path == "/v1/chat/completions" ? json.GetProperty("error").GetProperty("code") : json.GetProperty("code");
            Assert.Equal("invalid_idempotency_key", code.GetString());
        }

        using var missing = await _client.PostJsonAsync("/v1/ops/rollbacks", "{}");
        Assert.Equal("idempotency_key_required", (await missing.ProblemAsync(400)).GetProperty("code").GetString());
        Assert.Equal(0, (await Tenant().GetJsonAsync("/v1/generations?limit=10")).GetProperty("data").GetArrayLength());
    }

    [Fact]
    public async Task AnotherTenantsHeader_IsRefusedBeforeTheEndpointRuns()
    {
        var (key, _) = await _client.CreateKeyAsync("t2", "publish", "subscribe", "generate");
        using var t2 = _server.CreateClient(key);
        t2.DefaultRequestHeaders.Add("X-Tenant-Key", "t1");

        foreach (var (path, body) in new[] { ("/v1/streams/s/events", """{"type":"token","data":{}}"""), ("/v1/generations", "{}"), ("/v1/prompts/p/versions", "{}") })
        {
            using var response = await t2.PostJsonAsync(path, body);
            Assert.Equal("tenant_mismatch", (await response.ProblemAsync(403)).GetProperty("code").GetString());
        }

        using var chat = await t2.PostJsonAsync("/v1/chat/completions", "{}");
        Assert.Equal(403, (int)chat.StatusCode);
        var error = (await chat.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error");
        Assert.Equal(("permission_error", "tenant_mismatch"), (error.GetProperty("type").GetString(), error.GetProperty("code").GetString()));
        using var stream = await Tenant().GetAsync("/v1/streams/s");
        Assert.Equal(404, (int)stream.StatusCode);
    }

    [Theory]
    [InlineData("PUT", "/v1/admin/limits", """{"max_sse_connections":0}""", "max_sse_connections")]
    [InlineData("POST", "/v1/admin/rate-limit/emergency", """{"burst":5}""", "requests_per_minute")]
    [InlineData("POST", "/v1/admin/keys", """{"tenant":"t1","roles":[]}""", "roles")]
    [InlineData("POST", "/v1/admin/sse/broadcast-reconnect", """{"retry_ms":-1}""", "retry_ms")]
    [InlineData("POST", "/v1/streams/s/tokens", """{"ttl_seconds":86401}""", "ttl_seconds")]
    public async Task OutOfRangeValue_IsRefusedByItsAnnotation_NamingTheField(string method, string path, string body, string param)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path) { Content = Body(body, "application/x-www-form-urlencoded") };
        request.Headers.Add("X-Tenant-Key", "t1");
        using var response = await _client.SendAsync(request);

        var problem = await response.ProblemAsync(400);
        Assert.Equal(("invalid_request", param), (problem.GetProperty("code").GetString(), problem.GetProperty("param").GetString()));
        Assert.Contains(param, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        var limits = await _client.GetJsonAsync("/v1/admin/limits");
        Assert.NotEqual(0, limits.GetProperty("max_sse_connections").GetInt32());
    }

    private HttpClient Tenant()
    {
        var client = _server.CreateClient();
        client.DefaultRequestHeaders.Add("X-Tenant-Key", "t1");
        return client;
    }

    private static StringContent Body(string json, string contentType) => new(json, Encoding.UTF8, contentType);

    private async Task GenerationRefusedAsync(string body, string code, string param)
    {
        var client = Tenant();
        using var response = await client.PostJsonAsync("/v1/generations", body);

        var problem = await response.ProblemAsync(400);
        Assert.Equal((code, param), (problem.GetProperty("code").GetString(), problem.GetProperty("param").GetString()));
        Assert.Equal(0, (await client.GetJsonAsync("/v1/generations?limit=10")).GetProperty("data").GetArrayLength());
    }

    /// <summary>OpenAI's error shape, which its SDKs read: a 400 with <c>error.message/type/param/code</c>.</summary>
    private async Task ChatRefusedAsync(string body, string param)
    {
        var client = Tenant();
        using var response = await client.PostJsonAsync("/v1/chat/completions", body);

        Assert.Equal(400, (int)response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var error = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error");
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.Equal(param, error.GetProperty("param").GetString());
        Assert.False(string.IsNullOrEmpty(error.GetProperty("message").GetString()));
        Assert.StartsWith("invalid_", error.GetProperty("code").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, (await client.GetJsonAsync("/v1/generations?limit=10")).GetProperty("data").GetArrayLength());
    }
}
