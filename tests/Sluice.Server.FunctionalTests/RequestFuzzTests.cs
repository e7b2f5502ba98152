using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using CsCheck;
using Sluice.Testing;
using Xunit.Abstractions;

namespace Sluice.Server.FunctionalTests;

/// <summary>
/// API.md section 1 as a property: whatever a careless client sends (bodies of the wrong shape, bad headers,
/// ids and query strings) to any endpoint, the answer is never a 5xx, a refusal is problem+json (OpenAI's shape on
/// <c>/v1/chat/completions</c>), and nothing stored changes. <c>SLUICE_FUZZ_SEED</c> fixes the seed (CI sets it);
/// without it the seed is random, and CsCheck prints it on failure to replay with.
/// </summary>
public sealed class RequestFuzzTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string Tenant = "fz";
    private const string StreamId = "fz-s";
    private const string PromptId = "fz-p";
    private const int Iterations = 400;
    private const int KestrelMaxRequestLine = 8 * 1024 - 32;

    private SluiceTestServer _server = null!;
    private HttpClient _admin = null!;
    private HttpClient _tenant = null!;
    private string _generationId = null!;
    private readonly Dictionary<string, int> _answers = [];

    public async Task InitializeAsync()
    {
        _server = await SluiceTestServer.StartAsync();
        _admin = _server.CreateClient();
        _admin.DefaultRequestHeaders.Add("X-Tenant-Key", Tenant);
        var (key, _) = await _admin.CreateKeyAsync(Tenant, "subscribe", "publish", "generate");
        _tenant = _server.CreateClient(key);
        await _tenant.PublishAsync(StreamId, "token", new { text = "a" });
        await _tenant.PublishAsync(StreamId, "token", new { text = "b" });
        var generation = await _tenant.CreateGenerationAsync("""{"model":"simulated/default","messages":[{"role":"user","content":"hi"}],"simulate":{"output_tokens":3,"ttft_ms":0}}""");
        _generationId = generation.GetProperty("id").GetString()!;
        await _tenant.WaitFinishedAsync(_generationId);
        using var prompt = await _tenant.PostJsonAsync($"/v1/prompts/{PromptId}/versions", """{"template":"Say {{x}}"}""");
        await Api.EnsureAsync(prompt, 201);
    }

    public async Task DisposeAsync()
    {
        _tenant.Dispose();
        _admin.Dispose();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task MalformedRequests_AreNever5xx_AlwaysAProblem_AndChangeNothingStored()
    {
        var seed = Environment.GetEnvironmentVariable("SLUICE_FUZZ_SEED") is { Length: > 0 } set ? set : null;
        output.WriteLine(seed is null ? "random seed (CsCheck prints it on failure)" : "seed " + seed);
        var before = await SnapshotAsync();

        async Task CheckAsync(FuzzRequest request)
        {
            await SendAndCheckAsync(request);
            var after = await SnapshotAsync();
            Assert.True(before == after, $"stored state changed by {request}\nbefore: {before}\nafter:  {after}");
        }

        if (seed is null)
        {
            await Requests().SampleAsync(CheckAsync, writeLine: output.WriteLine, iter: Iterations, threads: 1, print: r => r.ToString());
        }
        else
        {
            // CsCheck's seed fixes only the first iteration; the later ones are random. CI must replay the same
            // cases every run, so the whole set is one generated value, drawn from the seed in one iteration.
            await Requests().Array[Iterations].SampleAsync(async requests =>
            {
                foreach (var request in requests)
                {
                    await CheckAsync(request);
                }
            }, writeLine: output.WriteLine, seed: seed, iter: 1, threads: 1, print: r => $"{r.Length} requests from seed {seed}");
        }

        // What the cases reached, so a generator that stops reaching the deserializer shows in the output.
        output.WriteLine(string.Join(", ", _answers.OrderByDescending(a => a.Value).Select(a => $"{a.Key}: {a.Value}")));
        Assert.Contains(_answers.Keys, k => k.StartsWith("400 invalid_request", StringComparison.Ordinal));
        Assert.Contains(_answers.Keys, k => k.StartsWith("400 invalid_json", StringComparison.Ordinal));
    }

    private async Task SendAndCheckAsync(FuzzRequest request)
    {
        using var message = new HttpRequestMessage(request.Method, request.Path);
        if (request.Body is not null)
        {
            message.Content = new ByteArrayContent(Encoding.UTF8.GetBytes(request.Body));
            if (request.ContentType is not null)
            {
                message.Content.Headers.TryAddWithoutValidation("Content-Type", request.ContentType);
            }
        }

        foreach (var (name, value) in request.Headers)
        {
            message.Headers.TryAddWithoutValidation(name, value);
        }

        var client = request.Admin ? _admin : _tenant;
        using var response = await client.SendAsync(message, HttpCompletionOption.ResponseHeadersRead);
        var status = (int)response.StatusCode;
        Assert.True(status < 500, $"{status} for {request}");
        if (request.MustRefuse)
        {
            Assert.True(status is >= 400 and < 500, $"{status} (expected a refusal) for {request}");
        }

        var code = status < 400 ? null : await RefusalCodeAsync(request, response);
        var answer = code is null ? status.ToString(System.Globalization.CultureInfo.InvariantCulture) : $"{status} {code}";
        _answers[answer] = _answers.GetValueOrDefault(answer) + 1;
    }

    /// <summary>Checks a refusal's shape and returns its code (null for Kestrel's protocol-level refusal).</summary>
    private static async Task<string?> RefusalCodeAsync(FuzzRequest request, HttpResponseMessage response)
    {
        var status = (int)response.StatusCode;
        var text = await response.Content.ReadAsStringAsync();
        if (KestrelRefusesTarget(request.Path) && status == 400 && text.Length == 0 && !response.Headers.Contains("X-Trace-Id"))
        {
            // Kestrel refuses a control character decoded in the path while parsing the request line, before the
            // application (and so any problem writer) sees the request: a protocol-level 400 with no body.
            return null;
        }

        if (status == 414 && text.Length == 0 && request.Path.Length > KestrelMaxRequestLine && !response.Headers.Contains("X-Trace-Id"))
        {
            // Kestrel's MaxRequestLineSize (8 KiB): a longer request line is refused while it is parsed, before the
            // application runs, so it is a protocol-level 414 with no body; nothing reaches a handler or a store.
            return null;
        }

        Assert.True(text.Length > 0, $"{status} with an empty body for {request}");
        using var json = JsonDocument.Parse(text);
        if (request.Path.StartsWith("/v1/chat/completions", StringComparison.Ordinal))
        {
            Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
            var error = json.RootElement.GetProperty("error");
            Assert.Equal(JsonValueKind.String, error.GetProperty("message").ValueKind);
            return error.GetProperty("code").GetString() ?? throw new Xunit.Sdk.XunitException($"no code for {request}");
        }

        Assert.True(response.Content.Headers.ContentType?.MediaType == "application/problem+json", $"{response.Content.Headers.ContentType} for {request}: {text}");
        Assert.Equal(status, json.RootElement.GetProperty("status").GetInt32());
        return json.RootElement.GetProperty("code").GetString() ?? throw new Xunit.Sdk.XunitException($"no code for {request}");
    }

    private static bool KestrelRefusesTarget(string path)
    {
        var target = path.Split('?')[0];
        return target.Contains("%00", StringComparison.Ordinal) || target.Contains("%0d", StringComparison.OrdinalIgnoreCase) || target.Contains("%0a", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>What a refused request must leave alone: the stream, the generations, keys, prompt, levers, audit.</summary>
    private async Task<string> SnapshotAsync()
    {
        var parts = new List<string>();
        foreach (var path in new[]
                 {
                     $"/v1/streams/{StreamId}", "/v1/generations?limit=100", $"/v1/admin/keys?tenant={Tenant}", $"/v1/prompts/{PromptId}",
                     "/v1/admin/limits", "/v1/admin/circuit-breaker", "/v1/admin/rate-limit/emergency", "/v1/ops/llm/providers/health",
                     "/v1/ops/audit?size=1000",
                 })
        {
            parts.Add((await _admin.GetJsonAsync(path)).GetRawText());
        }

        return string.Join('\n', parts);
    }

    // ---- generators ----

    /// <summary>A field of a request body and the kind of JSON value it takes.</summary>
    private sealed record Field(string Name, Kind Kind);

    private abstract record Kind;

    private sealed record Scalar(string Type) : Kind;

    private sealed record Obj(Field[] Fields) : Kind;

    private sealed record Arr(Kind Item) : Kind;

    private static readonly Kind Str = new Scalar("string");
    private static readonly Kind Int = new Scalar("int");
    private static readonly Kind Num = new Scalar("number");
    private static readonly Kind Bool = new Scalar("bool");
    private static readonly Kind Content = new Scalar("content");
    private static readonly Kind Any = new Scalar("any");

    private static readonly Obj Message = new([new("role", Str), new("content", Content), new("tool_calls", new Arr(new Obj([new("id", Str), new("type", Str), new("function", new Obj([new("name", Str), new("arguments", Str)]))]))), new("tool_call_id", Str), new("name", Str)]);
    private static readonly Obj Simulate = new([new("ttft_ms", Int), new("tokens_per_second", Num), new("output_tokens", Int), new("fail", Str), new("text", Str)]);

    private static readonly Obj GenerationBody = new([
        new("model", Str), new("messages", new Arr(Message)), new("prompt", new Obj([new("id", Str), new("version", Int), new("variables", Any)])),
        new("max_tokens", Int), new("temperature", Num), new("response_contract", new Obj([new("type", Str), new("schema", Any)])), new("channel", Str),
        new("metadata", Any), new("simulate", Simulate),
    ]);

    private static readonly Obj ChatBody = new([
        new("model", Str), new("messages", new Arr(Message)), new("stream", Bool), new("stream_options", new Obj([new("include_usage", Bool)])),
        new("max_tokens", Int), new("max_completion_tokens", Int), new("temperature", Num),
        new("tools", new Arr(new Obj([new("type", Str), new("function", new Obj([new("name", Str), new("description", Str), new("parameters", Any)]))]))),
        new("response_format", new Obj([new("type", Str), new("json_schema", new Obj([new("name", Str), new("schema", Any), new("strict", Bool)]))])),
        new("simulate", Simulate),
    ]);

    /// <summary>Endpoints that read a body: method, path, body shape, whether it is an admin (or ops) call.</summary>
    private IEnumerable<(HttpMethod Method, string Path, Obj Body, bool Admin)> BodyEndpoints() =>
    [
        (HttpMethod.Post, $"/v1/streams/{StreamId}/events", new Obj([new("type", Str), new("data", Any), new("events", new Arr(new Obj([new("type", Str), new("data", Any)])))]), false),
        (HttpMethod.Post, $"/v1/streams/{StreamId}/tokens", new Obj([new("ttl_seconds", Int)]), false),
        (HttpMethod.Post, "/v1/generations", GenerationBody, false),
        (HttpMethod.Post, $"/v1/generations/{_generationId}/tokens", new Obj([new("ttl_seconds", Int)]), false),
        (HttpMethod.Post, "/v1/chat/completions", ChatBody, false),
        (HttpMethod.Post, $"/v1/prompts/{PromptId}/versions", new Obj([new("template", Str), new("model", Str), new("params", Any)]), false),
        (HttpMethod.Post, "/v1/admin/keys", new Obj([new("tenant", Str), new("roles", new Arr(Str)), new("name", Str), new("expires_at", new Scalar("time"))]), true),
        (HttpMethod.Post, "/v1/admin/sse/broadcast-reconnect", new Obj([new("retry_ms", Int)]), true),
        (HttpMethod.Post, "/v1/admin/rate-limit/emergency", new Obj([new("requests_per_minute", Int), new("burst", Int), new("reason", Str)]), true),
        (HttpMethod.Post, "/v1/admin/circuit-breaker", new Obj([new("endpoints", new Arr(Str)), new("action", Str), new("reason", Str)]), true),
        (HttpMethod.Put, "/v1/admin/limits", new Obj([new("max_concurrent_generations", Int), new("max_sse_connections", Int), new("max_streams_per_tenant", Int), new("reason", Str)]), true),
        (HttpMethod.Post, "/v1/ops/llm/providers/simulated/kill-switch", new Obj([new("action", Str), new("reason", Str), new("effective_seconds", Int)]), true),
        (HttpMethod.Post, "/v1/ops/rollbacks", new Obj([new("target_type", Str), new("target_id", Str), new("to_version", Int), new("reason", Str)]), true),
    ];

    /// <summary>Endpoints read with ids, headers and queries; <c>{id}</c> is filled with a valid or a malformed id.</summary>
    private IEnumerable<(HttpMethod Method, string Path, string[] Query, bool Admin, string ValidId)> OtherEndpoints() =>
    [
        (HttpMethod.Get, "/v1/streams/{id}", [], false, StreamId),
        (HttpMethod.Get, "/v1/streams/{id}/events", [], false, StreamId),
        (HttpMethod.Post, "/v1/streams/{id}/events", [], false, StreamId),
        (HttpMethod.Get, "/v1/generations/{id}", [], false, _generationId),
        (HttpMethod.Get, "/v1/generations/{id}/events", ["format", "include_usage"], false, _generationId),
        (HttpMethod.Post, "/v1/generations/{id}/cancel", [], false, _generationId),
        (HttpMethod.Post, "/v1/generations/{id}/tokens", [], false, _generationId),
        (HttpMethod.Get, "/v1/generations", ["status", "limit"], false, ""),
        (HttpMethod.Get, "/v1/prompts/{id}", [], false, PromptId),
        (HttpMethod.Post, "/v1/prompts/{id}/versions/9/approve", [], true, PromptId),
        (HttpMethod.Post, $"/v1/prompts/{PromptId}/versions/{{id}}/approve", [], true, "2"),
        (HttpMethod.Get, "/v1/models", [], false, ""),
        (HttpMethod.Get, "/v1/sse/health", [], false, ""),
        (HttpMethod.Get, "/v1/admin/keys", ["tenant"], true, ""),
        (HttpMethod.Delete, "/v1/admin/keys/{id}", [], true, "k_missing"),
        (HttpMethod.Get, "/v1/ops/audit", ["from", "to", "page", "size"], true, ""),
        (HttpMethod.Get, "/v1/ops/traces", ["page", "size", "keyword", "from", "to"], true, ""),
        (HttpMethod.Get, "/v1/ops/metrics/summary", ["limit"], true, ""),
        (HttpMethod.Get, "/v1/ops/llm/providers/health", ["verbose"], true, ""),
        (HttpMethod.Post, "/v1/ops/llm/providers/{id}/kill-switch", [], true, "simulated"),
        (HttpMethod.Get, "/v1/logs/stream", ["level"], true, ""),
        (HttpMethod.Get, "/v1/admin/rate-limit/emergency", [], true, ""),
    ];

    private Gen<FuzzRequest> Requests() => Gen.Frequency((3, BodyRequests()), (2, OtherRequests()));

    private Gen<FuzzRequest> BodyRequests() =>
        Gen.Select(Gen.OneOf(BodyEndpoints().ToArray()), Gen.Int[0, int.MaxValue], Gen.OneOf(ContentTypes), (endpoint, salt, contentType) => (endpoint, salt, contentType))
            .SelectMany(t => BadBody(t.endpoint.Body).Select(body =>
            {
                // Ops calls need an Idempotency-Key to reach their body; a fresh one each time.
                var headers = t.endpoint.Path.StartsWith("/v1/ops/", StringComparison.Ordinal)
                    ? new[] { ("Idempotency-Key", "fuzz-" + t.salt.ToString(System.Globalization.CultureInfo.InvariantCulture) + "-" + body.Length.ToString(System.Globalization.CultureInfo.InvariantCulture)) }
                    : [];
                return new FuzzRequest(t.endpoint.Method, t.endpoint.Path, body, t.contentType, headers, t.endpoint.Admin, MustRefuse: true);
            }));

    private Gen<FuzzRequest> OtherRequests() =>
        Gen.Select(Gen.OneOf(OtherEndpoints().ToArray()), Gen.Bool, Gen.OneOf(BadIds), Gen.OneOf(BadQueryValues).Array[0, 3], BadHeaders.Array[0, 2],
                (endpoint, validId, badId, queryValues, headers) =>
            {
                var path = endpoint.Path.Replace("{id}", validId ? endpoint.ValidId : badId, StringComparison.Ordinal);
                var query = string.Join('&', queryValues.Select((v, i) => endpoint.Query.Length == 0 ? "x=" + v : endpoint.Query[i % endpoint.Query.Length] + "=" + v));
                var body = endpoint.Method == HttpMethod.Get || endpoint.Method == HttpMethod.Delete ? null : "{}";
                return new FuzzRequest(endpoint.Method, query.Length == 0 ? path : path + "?" + query, body, "application/json", headers, endpoint.Admin, MustRefuse: false);
            });

    /// <summary>A body that cannot be accepted: not JSON, the wrong JSON type, too deep, or a field of the wrong type.</summary>
    private static Gen<string> BadBody(Obj shape) => Gen.Frequency(
        (1, Gen.OneOf(NotJson)),
        (1, Gen.OneOf("[]", "5", "\"text\"", "true", "[{}]", "-0.5e3")),
        (1, Gen.Int[65, 200].Select(depth => new string('[', depth) + new string(']', depth))),
        (1, Gen.Int[65, 120].Select(depth => string.Concat(Enumerable.Repeat("{\"a\":", depth)) + "1" + new string('}', depth))),
        (6, WrongObject(shape)));

    /// <summary>An object of the shape with one field of the wrong kind and up to two more of the right kind.</summary>
    private static Gen<string> WrongObject(Obj shape)
    {
        var wrongable = shape.Fields.Where(f => f.Kind != Any).ToArray();
        return Gen.Select(Gen.OneOf(wrongable), Gen.OneOf(shape.Fields).Array[0, 2], Gen.Int[0, 1000], (wrong, others, salt) => (wrong, others, salt))
            .SelectMany(t => Wrong(t.wrong.Kind).Select(bad =>
            {
                var parts = new List<string> { $"\"{t.wrong.Name}\":{bad}" };
                parts.AddRange(t.others.Where(f => f.Name != t.wrong.Name).DistinctBy(f => f.Name).Select(f => $"\"{f.Name}\":{Right(f.Kind, t.salt)}"));
                // The wrong field first or last: deserializers fail at different points.
                if (t.salt % 2 == 1)
                {
                    parts.Reverse();
                }

                return "{" + string.Join(',', parts) + "}";
            }));
    }

    /// <summary>A value no deserializer of that kind accepts.</summary>
    private static Gen<string> Wrong(Kind kind) => kind switch
    {
        Scalar { Type: "string" } => Gen.OneOf("5", "true", "{}", "[]", "[\"a\"]", "1e400"),
        Scalar { Type: "time" } => Gen.OneOf("5", "true", "{}", "\"yesterday\"", "\"2026-13-45T99:00:00Z\"", "\"\""),
        Scalar { Type: "int" } => Gen.OneOf("\"5\"", "1.5", "true", "{}", "[]", "99999999999", "-99999999999", "1e400", "\"\\ud800\""),
        Scalar { Type: "number" } => Gen.OneOf("\"0.5\"", "true", "{}", "[]", "\"NaN\"", "1e400"),
        Scalar { Type: "bool" } => Gen.OneOf("\"true\"", "1", "{}", "[]", "0"),
        Scalar { Type: "content" } => Gen.OneOf("5", "true", "{}", "[5]", "[\"a\"]", "[{\"type\":\"text\",\"text\":5}]"),
        Obj obj => Gen.Frequency((2, Gen.OneOf("5", "\"x\"", "true", "[]")), (1, WrongObject(obj))),
        Arr { Item: Obj item } => Gen.Frequency((1, Gen.OneOf("5", "\"x\"", "{}", "true")), (2, WrongObject(item).Select(o => "[" + o + "]"))),
        Arr arr => Gen.Frequency((1, Gen.OneOf("5", "\"x\"", "{}", "true")), (1, Wrong(arr.Item).Select(v => "[" + v + "]"))),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    /// <summary>A value of the right kind, sometimes an awkward one (empty, lone surrogate, huge).</summary>
    private static string Right(Kind kind, int salt) => kind switch
    {
        Scalar { Type: "string" or "content" } => (salt % 5) switch { 0 => "\"\"", 1 => "\"\\ud800\"", 2 => "\"" + new string('x', 5000) + "\"", 3 => "null", _ => "\"x\"" },
        Scalar { Type: "time" } => "\"2030-01-01T00:00:00Z\"",
        Scalar { Type: "int" } => (salt % 4) switch { 0 => "-1", 1 => "0", 2 => "2147483647", _ => "3" },
        Scalar { Type: "number" } => (salt % 3) switch { 0 => "-1", 1 => "1e308", _ => "0.5" },
        Scalar { Type: "bool" } => salt % 2 == 0 ? "true" : "false",
        Obj => salt % 2 == 0 ? "{}" : "null",
        Arr => salt % 2 == 0 ? "[]" : "[null]",
        _ => salt % 2 == 0 ? "{\"a\":[1,{\"b\":null}]}" : "\"\\udfff\"",
    };

    private static readonly string[] NotJson =
    [
        "{", "}", "[1,2", "nul", "{\"a\":}", "{\"type\":\"token\",}", "{'type':'token'}", "\u0000", "type=token&data=1", "<xml/>",
        "{\"type\":\"token\"}{\"type\":\"token\"}", "{\"a\":\"\\x\"}", "{\"a\":1e}", "\ufeff{", "{\"a\":\"unterminated}",
    ];

    private static readonly string?[] ContentTypes =
    [
        "application/json", "application/json; charset=utf-8", "application/x-www-form-urlencoded", "text/plain", null,
        "multipart/form-data", "application/xml", "application/json; charset=latin1", "garbage",
    ];

    private static readonly string[] BadIds =
    [
        new('a', 129), new('x', 2000), "%00", "%2e%2e", "a%20b", "%C3%A9", "%F0%9F%98%80", "-", "a/b", "..", "%", "%zz", "k_" + new string('9', 40),
        "0", "' OR 1=1 --", "%0d%0aX-Injected:%201",
    ];

    private static readonly string[] BadQueryValues =
    [
        "abc", "-1", "0", "1e9", "99999999999999999999", "", "%00", "2026-13-45", "yesterday", "true", new('z', 3000), "%ff", "1,2", "null",
    ];

    private static readonly Gen<(string, string)> BadHeaders = Gen.OneOf(
        ("Last-Event-ID", "abc"), ("Last-Event-ID", "-1"), ("Last-Event-ID", "99999999999999999999999"), ("Last-Event-ID", "1.5"),
        ("Last-Event-ID", "1000000"), ("Last-Event-ID", ""), ("Last-Event-ID", " 1"), ("Idempotency-Key", new string('k', 300)),
        ("Idempotency-Key", "has space"), ("Idempotency-Key", ""), ("X-Tenant-Key", "other"), ("X-Tenant-Key", ""), ("X-Tenant-Key", new string('t', 300)),
        ("X-Trace-Id", new string('f', 5000)), ("traceparent", "00-zz-zz-01"), ("Accept", "text/event-stream"), ("Accept", "garbage/*;q=x"));

    /// <summary>One generated request, printed when a case fails so it can be replayed with curl.</summary>
    public sealed record FuzzRequest(HttpMethod Method, string Path, string? Body, string? ContentType, (string, string)[] Headers, bool Admin, bool MustRefuse)
    {
        public override string ToString() =>
            $"{Method} {(Path.Length > 200 ? Path[..200] + "…" : Path)} [{(Admin ? "admin" : "tenant")}] {string.Join(' ', Headers.Select(h => $"{h.Item1}: {(h.Item2.Length > 60 ? h.Item2[..60] + "…" : h.Item2)}"))}" +
            (Body is null ? "" : $" Content-Type: {ContentType ?? "(none)"} body: {(Body.Length > 300 ? Body[..300] + "…" : Body)}");
    }
}
