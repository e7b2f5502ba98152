using System.Diagnostics;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Sluice.Testing;

namespace Sluice.Server.FunctionalTests;

/// <summary>
/// API.md section 11 against a real Sluice process configured only by the standard <c>OTEL_*</c> variables, exporting
/// to an OTLP/HTTP receiver started here, with a provider that speaks OpenAI's wire format. A SIGTERM ends each run:
/// the exporters flush on shutdown, so what the receiver holds after the exit is everything Sluice sent.
/// </summary>
public sealed class TelemetryProcessTests
{
    private const string Prompt = "the-prompt-words-7f3a";
    private const string UpstreamSecret = "sk-upstream-secret-91c2";

    [Fact]
    public async Task OneGeneration_ExportsTheServerGenerationAndProviderSpans_WithGenAiAttributes_InTheCallersTrace()
    {
        await using var receiver = await OtlpReceiver.StartAsync();
        await using var upstream = await FakeUpstream.StartAsync();
        var traceId = ActivityTraceId.CreateRandom().ToHexString();
        var callerSpan = ActivitySpanId.CreateRandom().ToHexString();
        string id;
        string token;
        using (var sluice = await StartAsync(receiver, upstream, tracing: true))
        {
            using var client = sluice.CreateClient();
            using var create = new HttpRequestMessage(HttpMethod.Post, "/v1/generations")
            {
                Content = new StringContent($$"""{"model":"up/gpt-4o-mini","max_tokens":64,"messages":[{"role":"user","content":"{{Prompt}}"}]}""", Encoding.UTF8, "application/json"),
            };
            create.Headers.Add("traceparent", $"00-{traceId}-{callerSpan}-01");
            using var created = await client.SendAsync(create);
            Assert.Equal(traceId, created.Headers.GetValues("X-Trace-Id").Single());
            var body = await created.Content.ReadFromJsonAsync<JsonElement>();
            id = body.GetProperty("id").GetString()!;
            token = Uri.UnescapeDataString(System.Text.RegularExpressions.Regex.Match(body.GetProperty("events_url").GetString()!, "access_token=([^&]+)").Groups[1].Value);
            Assert.NotEmpty(token);
            Assert.Equal("succeeded", (await client.WaitFinishedAsync(id)).GetProperty("status").GetString());

            // A resume with its token in the query, in a trace of its own: its span says how it resumed.
            using var anonymous = sluice.CreateClient(key: null);
            using var resume = new HttpRequestMessage(HttpMethod.Get, $"/v1/generations/{id}/events?access_token={Uri.EscapeDataString(token)}");
            resume.Headers.Add("Last-Event-ID", "1");
            resume.Headers.Add("traceparent", $"00-{new string('7', 32)}-{callerSpan}-01");
            using var resumed = await anonymous.SendAsync(resume, HttpCompletionOption.ResponseContentRead);
            Assert.Equal(200, (int)resumed.StatusCode);
            await StopAsync(sluice);
        }

        var spans = receiver.Spans();
        var trace = spans.Where(s => s.TraceId == traceId).ToList();
        var server = Assert.Single(trace, s => s.Kind == OtlpSpan.Server);
        Assert.Equal(callerSpan, server.ParentSpanId);
        Assert.Matches("^POST /v1/generations/?$", server.Name);
        Assert.Equal(202L, server["http.response.status_code"]);

        var generation = Assert.Single(trace, s => s.Scope == "Sluice");
        Assert.Equal(server.SpanId, generation.ParentSpanId);
        Assert.Equal("generation up/gpt-4o-mini", generation.Name);
        Assert.Equal("chat", generation["gen_ai.operation.name"]);
        Assert.Equal("openai", generation["gen_ai.system"]);
        Assert.Equal("openai", generation["gen_ai.provider.name"]);
        Assert.Equal("up/gpt-4o-mini", generation["gen_ai.request.model"]);
        Assert.Equal("gpt-4o-mini", generation["gen_ai.response.model"]);
        Assert.Equal(12L, generation["gen_ai.usage.input_tokens"]);
        Assert.Equal(9L, generation["gen_ai.usage.output_tokens"]);
        Assert.Equal(["stop"], Assert.IsType<List<object?>>(generation["gen_ai.response.finish_reasons"]));
        Assert.Equal(id, generation["sluice.generation.id"]);
        var firstToken = Assert.Single(generation.Events, e => e.Name == "gen_ai.first_token");
        Assert.IsType<double>(firstToken.Attributes["gen_ai.response.time_to_first_chunk"]);

        var provider = Assert.Single(trace, s => s.Scope == "Experimental.Microsoft.Extensions.AI");
        Assert.Equal(generation.SpanId, provider.ParentSpanId);
        Assert.Equal("chat gpt-4o-mini", provider.Name);
        Assert.Equal("openai", provider["gen_ai.system"]);
        Assert.Equal("gpt-4o-mini", provider["gen_ai.request.model"]);
        Assert.Equal(12L, provider["gen_ai.usage.input_tokens"]);
        Assert.Equal(9L, provider["gen_ai.usage.output_tokens"]);

        // The provider call is the HttpClient span under the provider span, and the upstream got the same trace.
        var call = Assert.Single(trace, s => s.ParentSpanId == provider.SpanId && s.Kind == 3);
        Assert.Equal("POST", call["http.request.method"]);
        Assert.Matches($"^00-{traceId}-{call.SpanId}-01$", Assert.Single(upstream.Requests).Traceparent);

        var sse = Assert.Single(spans, s => s.TraceId == new string('7', 32) && s.Kind == OtlpSpan.Server);
        Assert.Equal("resumed", sse["sluice.sse.resume"]);
        Assert.Equal(1L, sse["sluice.sse.resume_after"]);
        Assert.Equal("terminal", sse["sluice.sse.end"]);

        // Logs and metrics went the same way; nothing anywhere carries the prompt, the output, a token or a secret.
        Assert.Contains(receiver.Logs(), l => l.Body?.Contains("Now listening on", StringComparison.Ordinal) == true);
        Assert.True(receiver.Count("/v1/metrics") > 0);
        Assert.Contains(receiver.Requests, r => r.Path == "/v1/metrics" && Encoding.UTF8.GetString(r.Body).Contains("sluice.generations", StringComparison.Ordinal));
        var everything = string.Concat(receiver.Requests.Select(r => Encoding.UTF8.GetString(r.Body)));
        Assert.DoesNotContain(Prompt, everything, StringComparison.Ordinal);
        Assert.DoesNotContain("from the upstream", everything, StringComparison.Ordinal);
        Assert.DoesNotContain(token, everything, StringComparison.Ordinal);
        Assert.DoesNotContain(UpstreamSecret, everything, StringComparison.Ordinal);
        Assert.DoesNotContain(SluiceTestServer.AdminKey, everything, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RecordContent_PutsThePromptAndOutputOnTheProviderSpan_AndAHexTraceIdHeaderNamesTheTrace()
    {
        await using var receiver = await OtlpReceiver.StartAsync();
        await using var upstream = await FakeUpstream.StartAsync();
        var traceId = ActivityTraceId.CreateRandom().ToHexString();
        using (var sluice = await StartAsync(receiver, upstream, tracing: true, "--Sluice:Telemetry:RecordContent", "true"))
        {
            using var client = sluice.CreateClient();
            using var create = new HttpRequestMessage(HttpMethod.Post, "/v1/generations")
            {
                Content = new StringContent($$"""{"model":"up/gpt-4o-mini","messages":[{"role":"user","content":"{{Prompt}}"}]}""", Encoding.UTF8, "application/json"),
            };
            create.Headers.Add("X-Trace-Id", traceId.ToUpperInvariant());
            using var created = await client.SendAsync(create);
            Assert.Equal(traceId, created.Headers.GetValues("X-Trace-Id").Single());
            var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
            await client.WaitFinishedAsync(id);
            await StopAsync(sluice);
        }

        var trace = receiver.Spans().Where(s => s.TraceId == traceId).ToList();
        var server = Assert.Single(trace, s => s.Kind == OtlpSpan.Server);
        Assert.Equal("", server.ParentSpanId);
        var provider = Assert.Single(trace, s => s.Scope == "Experimental.Microsoft.Extensions.AI");
        Assert.Contains(Prompt, Assert.IsType<string>(provider["gen_ai.input.messages"]), StringComparison.Ordinal);
        Assert.Contains("from the upstream", Assert.IsType<string>(provider["gen_ai.output.messages"]), StringComparison.Ordinal);
    }

    [Fact]
    public async Task TracingOff_SendsNothing_EvenWithTheVariablesSet()
    {
        await using var receiver = await OtlpReceiver.StartAsync();
        await using var upstream = await FakeUpstream.StartAsync();
        using (var sluice = await StartAsync(receiver, upstream, tracing: false))
        {
            using var client = sluice.CreateClient();
            var id = (await client.CreateGenerationAsync("""{"model":"up/gpt-4o-mini","messages":[{"role":"user","content":"x"}]}""")).GetProperty("id").GetString()!;
            Assert.Equal("succeeded", (await client.WaitFinishedAsync(id)).GetProperty("status").GetString());
            await StopAsync(sluice);
        }

        Assert.Empty(receiver.Requests);
        Assert.Equal("", Assert.Single(upstream.Requests).Traceparent);
    }

    [Fact]
    public async Task JsonLogFormat_EveryLineParses_AndARequestsLinesCarryItsTraceId()
    {
        var traceId = ActivityTraceId.CreateRandom().ToHexString();
        string output;
        string secret;
        using (var sluice = await SluiceProcess.StartAsync(Directory.CreateTempSubdirectory("sluice-jsonlog-").FullName, SluiceTestServer.AdminKey,
            "--Sluice:Store", "memory", "--Sluice:Logging:Format", "json"))
        {
            using var client = sluice.CreateClient();
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/admin/keys") { Content = JsonContent.Create(new { tenant = "acme", roles = new[] { "publish" } }) };
            request.Headers.Add("traceparent", $"00-{traceId}-{ActivitySpanId.CreateRandom().ToHexString()}-01");
            using var response = await client.SendAsync(request);
            await Api.EnsureAsync(response, 201);
            secret = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("key").GetString()!;

            // A token in a query string (as EventSource sends it) and a refused one: neither is written anywhere.
            using var anonymous = sluice.CreateClient(key: null);
            using var refused = await anonymous.GetAsync("/v1/streams/none/events?access_token=query-token-5d1e");
            Assert.Equal(401, (int)refused.StatusCode);
            await StopAsync(sluice);
            output = sluice.Output;
        }

        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.NotEmpty(lines);
        var entries = lines.Select(line => JsonDocument.Parse(line).RootElement).ToList();
        Assert.All(entries, e => Assert.True(e.TryGetProperty("LogLevel", out _) && e.TryGetProperty("Category", out _) && e.TryGetProperty("Message", out _)));
        var created = Assert.Single(entries, e => e.GetProperty("Message").GetString()!.Contains("created for tenant acme", StringComparison.Ordinal));
        var scopes = created.GetProperty("Scopes").EnumerateArray().Where(s => s.ValueKind == JsonValueKind.Object).ToList();
        Assert.Contains(scopes, s => s.TryGetProperty("TraceId", out var t) && t.GetString() == traceId);
        Assert.Contains(scopes, s => s.TryGetProperty("SpanId", out var t) && t.GetString()!.Length == 16);
        Assert.DoesNotContain(secret, output, StringComparison.Ordinal);
        Assert.DoesNotContain("query-token-5d1e", output, StringComparison.Ordinal);
        Assert.DoesNotContain(SluiceTestServer.AdminKey, output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task JsonLogFormat_AFirstStartsKeyNotice_GoesToStandardError_StandardOutputStaysJson()
    {
        string stdout;
        string all;
        using (var sluice = await SluiceProcess.StartAsync(Directory.CreateTempSubdirectory("sluice-jsonlog-first-").FullName, adminKey: null,
            "--Sluice:Logging:Format", "json"))
        {
            await StopAsync(sluice);
            stdout = sluice.StandardOutput;
            all = sluice.Output;
        }

        var key = System.Text.RegularExpressions.Regex.Match(all, @"\bsk_[A-Za-z0-9_-]{20,}").Value;
        Assert.NotEmpty(key);
        Assert.DoesNotContain(key, stdout, StringComparison.Ordinal);
        Assert.All(stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries), line => JsonDocument.Parse(line).Dispose());
    }

    private static Task<SluiceProcess> StartAsync(OtlpReceiver receiver, FakeUpstream upstream, bool tracing, params string[] extra) =>
        SluiceProcess.StartAsync(Directory.CreateTempSubdirectory("sluice-otel-").FullName, new Dictionary<string, string>
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.Endpoint.ToString().TrimEnd('/'),
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            ["OTEL_SERVICE_NAME"] = "sluice-under-test",
            ["OTEL_TRACES_SAMPLER"] = "parentbased_always_on",
        }, SluiceTestServer.AdminKey,
        [
            "--Sluice:Store", "memory",
            "--Sluice:Telemetry:Tracing", tracing ? "true" : "false",
            "--Sluice:Providers:up:Type", "openai",
            "--Sluice:Providers:up:BaseUrl", new Uri(upstream.BaseAddress, "/v1").ToString(),
            "--Sluice:Providers:up:ApiKey", UpstreamSecret,
            .. extra,
        ]);

    /// <summary>SIGTERM and the exit: the host's shutdown flushes every exporter before the process ends.</summary>
    private static async Task StopAsync(SluiceProcess sluice)
    {
        sluice.Terminate();
        await Task.Run(() => Assert.True(sluice.WaitForExit(TimeSpan.FromSeconds(60)), "Sluice stopped on SIGTERM"));
    }
}
