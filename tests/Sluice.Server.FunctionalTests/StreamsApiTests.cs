using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

using Sluice.Testing;

namespace Sluice.Server.FunctionalTests;

public sealed class StreamsApiTests : IAsyncLifetime
{
    private SluiceTestServer _server = null!;
    private HttpClient _client = null!;

    public async Task InitializeAsync()
    {
        _server = await SluiceTestServer.StartAsync();
        _client = _server.CreateClient();
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task Publish_SingleThenBatch_AssignsDenseIdsFromOne()
    {
        var first = await _client.PublishAsync("dense", "token", new { text = "a" });
        Assert.Equal(new long[] { 1 }, first);
        using var response = await _client.PostJsonAsync("/v1/streams/dense/events",
            """{"events":[{"type":"token","data":{"text":"b"}},{"type":"x-progress","data":{"pct":50}},{"type":"citation","data":{"index":1}}]}""");
        await Api.EnsureAsync(response, 201);
        var ids = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("ids").EnumerateArray().Select(e => e.GetInt64());
        Assert.Equal([2L, 3L, 4L], ids);
    }

    [Fact]
    public async Task GetStream_AfterPublishAndDone_ReportsMetadata()
    {
        await _client.PublishAsync("meta", "token", new { text = "a" });
        await _client.PublishAsync("meta", "done", new { finish_reason = "stop" });

        var info = await _client.GetJsonAsync("/v1/streams/meta");

        Assert.Equal("meta", info.GetProperty("id").GetString());
        Assert.Equal("closed", info.GetProperty("status").GetString());
        Assert.Equal(1, info.GetProperty("first_id").GetInt64());
        Assert.Equal(2, info.GetProperty("last_id").GetInt64());
        Assert.Equal(2, info.GetProperty("events").GetInt64());
        Assert.NotEqual(JsonValueKind.Null, info.GetProperty("closed_at").ValueKind);
        Assert.NotEqual(JsonValueKind.Null, info.GetProperty("created_at").ValueKind);
    }

    [Fact]
    public async Task Subscribe_ClosedStream_WritesContractHeadersAndExactFrames()
    {
        await _client.PublishAsync("bytes", "token", new { text = "hi" });
        await _client.PublishAsync("bytes", "done", new { finish_reason = "stop" });

        using var response = await _client.GetAsync("/v1/streams/bytes/events", HttpCompletionOption.ResponseHeadersRead);
        var hasContentLength = response.Content.Headers.NonValidated.Contains("Content-Length");
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream; charset=utf-8", response.Content.Headers.ContentType!.ToString());
        Assert.Equal("no-cache, no-transform", response.Headers.NonValidated["Cache-Control"].ToString());
        Assert.Equal("no", response.Headers.GetValues("X-Accel-Buffering").Single());
        Assert.False(hasContentLength);
        Assert.True(response.Headers.TransferEncodingChunked);
        Assert.Equal(
            "retry: 1000\n\n" +
            "event: token\ndata: {\"text\":\"hi\"}\nid: 1\n\n" +
            "event: done\ndata: {\"finish_reason\":\"stop\"}\nid: 2\n\n",
            body);
    }

    [Fact]
    public async Task Subscribe_WithLastEventIdHeaderOrQuery_SendsOnlyLaterEvents()
    {
        for (var i = 1; i <= 5; i++)
        {
            await _client.PublishAsync("resume", "token", new { n = i });
        }

        await _client.PublishAsync("resume", "done");

        await using var byHeader = await SseClient.ConnectAsync(_client, "/v1/streams/resume/events", lastEventId: "3");
        var fromHeader = await byHeader.ReadAllAsync().Select(e => e.EventId).ToListAsync();
        await using var byQuery = await SseClient.ConnectAsync(_client, "/v1/streams/resume/events?lastEventId=4");
        var fromQuery = await byQuery.ReadAllAsync().Select(e => e.EventId).ToListAsync();

        Assert.Equal(["4", "5", "6"], fromHeader);
        Assert.Equal(["5", "6"], fromQuery);
    }

    [Fact]
    public async Task Subscribe_HeaderAndQuery_HeaderWins()
    {
        await _client.PublishAsync("both", "token");
        await _client.PublishAsync("both", "token");
        await _client.PublishAsync("both", "done");

        await using var sse = await SseClient.ConnectAsync(_client, "/v1/streams/both/events?lastEventId=0", lastEventId: "2");

        Assert.Equal(["3"], await sse.ReadAllAsync().Select(e => e.EventId).ToListAsync());
    }

    [Fact]
    public async Task Subscribe_ClosedStreamFullyRead_Answers204()
    {
        await _client.PublishAsync("finished", "token");
        await _client.PublishAsync("finished", "done");

        var request = new HttpRequestMessage(HttpMethod.Get, "/v1/streams/finished/events");
        request.Headers.TryAddWithoutValidation("Last-Event-ID", "2");
        using var response = await _client.SendAsync(request);

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("-1")]
    [InlineData("1.5")]
    [InlineData("99999999999999999999")]
    public async Task Subscribe_MalformedLastEventId_Answers400Problem(string position)
    {
        await _client.PublishAsync("malformed", "token");

        var request = new HttpRequestMessage(HttpMethod.Get, "/v1/streams/malformed/events");
        request.Headers.TryAddWithoutValidation("Last-Event-ID", position);
        using var response = await _client.SendAsync(request);

        var problem = await response.ProblemAsync(400);
        Assert.Equal("invalid_last_event_id", problem.GetProperty("code").GetString());
    }

    [Fact]
    public async Task Subscribe_LastEventIdFromTheFuture_SendsEventIdAheadThenLiveEvents()
    {
        await _client.PublishAsync("ahead", "token", new { n = 1 });
        await using var sse = await SseClient.ConnectAsync(_client, "/v1/streams/ahead/events", lastEventId: "1000");

        var error = await sse.NextAsync();
        await _client.PublishAsync("ahead", "token", new { n = 2 });
        var live = await sse.NextAsync();

        Assert.Equal("error", error!.Value.EventType);
        Assert.Null(error.Value.EventId);
        Assert.Equal("""{"code":"event_id_ahead","last_id":1}""", error.Value.Data);
        Assert.Equal("2", live!.Value.EventId);
        Assert.Equal("""{"n":2}""", live.Value.Data);
    }

    [Fact]
    public async Task Subscribe_OpenStream_ReplaysThenDeliversLiveThenEndsAfterTerminal()
    {
        await _client.PublishAsync("live", "token", new { text = "a" });
        await using var sse = await SseClient.ConnectAsync(_client, "/v1/streams/live/events");
        var first = await sse.NextAsync();

        await _client.PublishAsync("live", "token", new { text = "b" });
        var second = await sse.NextAsync();
        await _client.PublishAsync("live", "done");
        var third = await sse.NextAsync();
        var end = await sse.NextAsync();

        Assert.Equal(("1", "token"), (first!.Value.EventId, first.Value.EventType));
        Assert.Equal(("2", "token"), (second!.Value.EventId, second.Value.EventType));
        Assert.Equal(("3", "done"), (third!.Value.EventId, third.Value.EventType));
        Assert.Null(end);
        Assert.Equal(TimeSpan.FromSeconds(1), sse.Parser.ReconnectionInterval);
    }

    [Fact]
    public async Task Publish_AfterTerminal_Answers409AndStoresNothing()
    {
        await _client.PublishAsync("closed", "safe_response", new { text = "sorry", reason = "content_filter" });

        using var response = await _client.PostJsonAsync("/v1/streams/closed/events", """{"type":"token","data":{}}""");

        var problem = await response.ProblemAsync(409);
        Assert.Equal("stream_closed", problem.GetProperty("code").GetString());
        Assert.Equal(1, (await _client.GetJsonAsync("/v1/streams/closed")).GetProperty("last_id").GetInt64());
    }

    [Fact]
    public async Task Publish_PayloadWithSseFieldsAndNewlines_CannotInjectFields()
    {
        var evil = "line1\nid: 999\ndata: {\"x\":1}\n\nevent: done\r\ndata: injected\r\rretry: 1\0";
        await _client.PublishAsync("inject", "token", new { text = evil });
        await _client.PublishAsync("inject", "done");

        await using var sse = await SseClient.ConnectAsync(_client, "/v1/streams/inject/events");
        var items = await sse.ReadAllAsync().ToListAsync();

        Assert.Equal(2, items.Count);
        Assert.Equal(("1", "token"), (items[0].EventId, items[0].EventType));
        Assert.Equal(evil, JsonDocument.Parse(items[0].Data).RootElement.GetProperty("text").GetString());
        Assert.DoesNotContain('\n', items[0].Data);
        Assert.Equal(("2", "done"), (items[1].EventId, items[1].EventType));
        Assert.Equal(TimeSpan.FromSeconds(1), sse.Parser.ReconnectionInterval);
    }

    [Fact]
    public async Task Publish_PrettyPrintedData_IsStoredAsOneLine()
    {
        using var response = await _client.PostJsonAsync("/v1/streams/pretty/events", "{\n  \"type\": \"token\",\n  \"data\": {\n    \"text\": \"a\",\n    \"n\": [1,\n 2]\n  }\n}");
        await Api.EnsureAsync(response, 201);
        await _client.PublishAsync("pretty", "done");

        await using var sse = await SseClient.ConnectAsync(_client, "/v1/streams/pretty/events");
        var first = await sse.NextAsync();

        Assert.Equal("""{"text":"a","n":[1,2]}""", first!.Value.Data);
    }

    [Theory]
    [InlineData("not json", "invalid_json")]
    [InlineData("""{"type":"tokens","data":{}}""", "invalid_event_type")]
    [InlineData("""{"type":"token\nid: 5","data":{}}""", "invalid_event_type")]
    [InlineData("""{"type":"X-Upper","data":{}}""", "invalid_event_type")]
    [InlineData("""{"data":{}}""", "invalid_event_type")]
    [InlineData("""{"type":"token","data":"text"}""", "invalid_event_data")]
    [InlineData("""{"events":[]}""", "invalid_request")]
    [InlineData("""{"events":[{"type":"done"},{"type":"token"}]}""", "invalid_request")]
    [InlineData("[1,2]", "invalid_request")]
    public async Task Publish_BadInput_Answers400AndChangesNothing(string body, string code)
    {
        await _client.PublishAsync("bad", "token", new { text = "kept" });

        using var response = await _client.PostJsonAsync("/v1/streams/bad/events", body);

        var problem = await response.ProblemAsync(400);
        Assert.Equal(code, problem.GetProperty("code").GetString());
        var info = await _client.GetJsonAsync("/v1/streams/bad");
        Assert.Equal(1, info.GetProperty("last_id").GetInt64());
        Assert.Equal("open", info.GetProperty("status").GetString());
    }

    [Theory]
    [InlineData("has space")]
    [InlineData("has%2Fslash")]
    [InlineData("semi;colon")]
    public async Task Publish_InvalidStreamId_Answers400(string streamId)
    {
        using var response = await _client.PostJsonAsync($"/v1/streams/{streamId}/events", """{"type":"token","data":{}}""");

        var problem = await response.ProblemAsync(400);
        Assert.Equal("invalid_stream_id", problem.GetProperty("code").GetString());
    }

    [Fact]
    public async Task Publish_StreamIdOf129Chars_Answers400()
    {
        using var response = await _client.PostJsonAsync($"/v1/streams/{new string('a', 129)}/events", """{"type":"token","data":{}}""");

        Assert.Equal("invalid_stream_id", (await response.ProblemAsync(400)).GetProperty("code").GetString());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Publish_TenMegabyteBody_Answers413AndChangesNothing(bool chunked)
    {
        await _client.PublishAsync("big", "token", new { text = "kept" });
        var huge = Encoding.UTF8.GetBytes("{\"type\":\"token\",\"data\":{\"text\":\"" + new string('x', 10 * 1024 * 1024) + "\"}}");

        // A raw socket: the server answers 413 and closes while the body is still being sent, which
        // HttpClient reports as a reset instead of the response.
        var (status, body) = await RawPostAsync("/v1/streams/big/events", huge, chunked);

        Assert.Equal(413, status);
        Assert.Contains("application/problem+json", body, StringComparison.Ordinal);
        Assert.Contains("\"code\":\"body_too_large\"", body, StringComparison.Ordinal);
        var info = await _client.GetJsonAsync("/v1/streams/big");
        Assert.Equal(1, info.GetProperty("last_id").GetInt64());
    }

    private async Task<(int Status, string Response)> RawPostAsync(string path, byte[] body, bool chunked)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(_server.BaseAddress.Host, _server.BaseAddress.Port);
        var stream = tcp.GetStream();
        var head = $"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {SluiceTestServer.AdminKey}\r\nContent-Type: application/json\r\n" +
            (chunked ? "Transfer-Encoding: chunked\r\n\r\n" : $"Content-Length: {body.Length}\r\n\r\n");
        using var stopSending = new CancellationTokenSource();
        var sending = Task.Run(async () =>
        {
            try
            {
                await stream.WriteAsync(Encoding.ASCII.GetBytes(head), stopSending.Token);
                for (var offset = 0; offset < body.Length; offset += 64 * 1024)
                {
                    var count = Math.Min(64 * 1024, body.Length - offset);
                    if (chunked)
                    {
                        await stream.WriteAsync(Encoding.ASCII.GetBytes($"{count:x}\r\n"), stopSending.Token);
                    }

                    await stream.WriteAsync(body.AsMemory(offset, count), stopSending.Token);
                    if (chunked)
                    {
                        await stream.WriteAsync("\r\n"u8.ToArray(), stopSending.Token);
                    }
                }
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException)
            {
                // The server stopped reading once it answered 413, or the reader below closed the
                // socket after reading that answer while a write was still in flight: both expected.
            }
        });

        var response = new StringBuilder();
        var buffer = new byte[16 * 1024];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            int n;
            while ((n = await stream.ReadAsync(buffer, timeout.Token)) > 0)
            {
                response.Append(Encoding.UTF8.GetString(buffer, 0, n));
                if (response.ToString().Contains("}", StringComparison.Ordinal) && response.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
                {
                    break;
                }
            }
        }
        catch (IOException)
        {
        }

        await stopSending.CancelAsync();
        tcp.Close();
        await sending;
        var text = response.ToString();
        return (int.Parse(text.AsSpan(9, 3), System.Globalization.CultureInfo.InvariantCulture), text);
    }

    [Fact]
    public async Task Publish_EventDataOverMaxEventBytes_Answers413()
    {
        var big = "{\"type\":\"token\",\"data\":{\"text\":\"" + new string('x', 1024 * 1024 + 10) + "\"}}";

        using var response = await _client.PostJsonAsync("/v1/streams/bigevent/events", big);

        Assert.Equal("event_too_large", (await response.ProblemAsync(413)).GetProperty("code").GetString());
    }

    [Fact]
    public async Task Subscribe_MissingStream_Answers404Problem()
    {
        using var response = await _client.GetAsync("/v1/streams/nope/events");

        Assert.Equal("not_found", (await response.ProblemAsync(404)).GetProperty("code").GetString());
    }

    [Fact]
    public async Task AnyRequest_WithTraceId_EchoesIt()
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/v1/streams/none");
        request.Headers.Add("X-Trace-Id", "trace-abc-123");
        using var response = await _client.SendAsync(request);
        var problem = await response.ProblemAsync(404);

        var traceparent = new HttpRequestMessage(HttpMethod.Get, "/health/live");
        traceparent.Headers.Add("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
        using var second = await _client.SendAsync(traceparent);

        Assert.Equal("trace-abc-123", response.Headers.GetValues("X-Trace-Id").Single());
        Assert.Equal("trace-abc-123", problem.GetProperty("trace_id").GetString());
        Assert.Equal("4bf92f3577b34da6a3ce929d0e0e4736", second.Headers.GetValues("X-Trace-Id").Single());
    }

    [Fact]
    public async Task TraceId_TraceparentWinsOverXTraceId_AHexXTraceIdIsTheTraceId_AnyOtherIsKeptAsGiven()
    {
        using var both = new HttpRequestMessage(HttpMethod.Get, "/v1/streams/none");
        both.Headers.Add("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
        both.Headers.Add("X-Trace-Id", "trace-abc-123");
        using var hex = new HttpRequestMessage(HttpMethod.Get, "/v1/streams/none");
        hex.Headers.Add("X-Trace-Id", "0AF7651916CD43DD8448EB211C80319C");
        using var malformedParent = new HttpRequestMessage(HttpMethod.Get, "/v1/streams/none");
        malformedParent.Headers.Add("traceparent", "00-zz-zz-01");
        malformedParent.Headers.Add("X-Trace-Id", "trace-abc-456");

        using var first = await _client.SendAsync(both);
        using var second = await _client.SendAsync(hex);
        using var third = await _client.SendAsync(malformedParent);

        Assert.Equal("4bf92f3577b34da6a3ce929d0e0e4736", first.Headers.GetValues("X-Trace-Id").Single());
        Assert.Equal("4bf92f3577b34da6a3ce929d0e0e4736", (await first.ProblemAsync(404)).GetProperty("trace_id").GetString());
        Assert.Equal("0af7651916cd43dd8448eb211c80319c", second.Headers.GetValues("X-Trace-Id").Single());
        Assert.Equal("trace-abc-456", third.Headers.GetValues("X-Trace-Id").Single());
    }

    [Fact]
    public async Task Health_LiveAndReady_AnswerWithoutCredentials()
    {
        using var anonymous = _server.CreateClient(key: null);

        using var live = await anonymous.GetAsync("/health/live");
        using var ready = await anonymous.GetAsync("/health/ready");

        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
    }

    [Fact]
    public async Task Subscribe_RawHttp_FirstBytesArriveBeforeStreamEnds()
    {
        await _client.PublishAsync("raw", "token", new { text = "first" });
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(_server.BaseAddress.Host, _server.BaseAddress.Port);
        var stream = tcp.GetStream();
        var request = $"GET /v1/streams/raw/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {SluiceTestServer.AdminKey}\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request));

        var text = new StringBuilder();
        var buffer = new byte[4096];
        while (!text.ToString().Contains("id: 1", StringComparison.Ordinal))
        {
            var n = await stream.ReadAsync(buffer);
            Assert.NotEqual(0, n);
            text.Append(Encoding.ASCII.GetString(buffer, 0, n));
        }

        Assert.StartsWith("HTTP/1.1 200 OK", text.ToString(), StringComparison.Ordinal);
        Assert.Contains("Transfer-Encoding: chunked", text.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("Content-Length", text.ToString(), StringComparison.Ordinal);
    }
}
