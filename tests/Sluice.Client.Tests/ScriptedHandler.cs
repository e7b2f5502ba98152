using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net;
using System.Text;

namespace Sluice.Client.Tests;

/// <summary>An HTTP handler that answers each request with the next scripted answer, recording when each came.</summary>
internal sealed class ScriptedHandler(TimeProvider time) : HttpMessageHandler
{
    private readonly ConcurrentQueue<Func<HttpRequestMessage, CancellationToken, Task<HttpResponseMessage>>> _answers = new();

    public ConcurrentQueue<(DateTimeOffset At, string? LastEventId, string? Authorization, string PathAndQuery)> Requests { get; } = new();

    public int Count => Requests.Count;

    public ScriptedHandler Answer(Func<HttpRequestMessage, CancellationToken, Task<HttpResponseMessage>> answer)
    {
        _answers.Enqueue(answer);
        return this;
    }

    /// <summary>A 200 event stream whose body the test writes.</summary>
    public ScriptedHandler Stream(SseBody body) => Answer((_, _) => Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK)
    {
        Content = new StreamContent(body.Reader) { Headers = { { "Content-Type", "text/event-stream" } } },
    }));

    public ScriptedHandler Status(HttpStatusCode status, TimeSpan? retryAfter = null, string? body = null) => Answer((_, _) =>
    {
        var response = new HttpResponseMessage(status) { Content = new StringContent(body ?? "") };
        if (retryAfter is { } r)
        {
            response.Headers.RetryAfter = new System.Net.Http.Headers.RetryConditionHeaderValue(r);
        }

        return Task.FromResult(response);
    });

    public ScriptedHandler NetworkError() => Answer((_, _) => throw new HttpRequestException("connection refused"));

    /// <summary>Never answers (a paused server): only the connect timeout ends it.</summary>
    public ScriptedHandler Hang() => Answer(async (_, ct) =>
    {
        await Task.Delay(Timeout.Infinite, ct);
        throw new InvalidOperationException("unreachable");
    });

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        Requests.Enqueue((time.GetUtcNow(), request.Headers.TryGetValues("Last-Event-ID", out var v) ? v.Single() : null, request.Headers.Authorization?.ToString(), request.RequestUri!.PathAndQuery));
        return _answers.TryDequeue(out var answer) ? answer(request, cancellationToken) : throw new HttpRequestException("nothing scripted");
    }
}

/// <summary>An event-stream body the test writes to, ends, or cuts.</summary>
internal sealed class SseBody
{
    private readonly Pipe _pipe = new();

    public Stream Reader => _pipe.Reader.AsStream();

    public async Task WriteAsync(string text) => await _pipe.Writer.WriteAsync(Encoding.UTF8.GetBytes(text));

    public Task EventAsync(long id, string type, string data) => WriteAsync($"id: {id}\nevent: {type}\ndata: {data}\n\n");

    public async Task TokensAsync(params long[] ids)
    {
        foreach (var i in ids)
        {
            await EventAsync(i, "token", $$"""{"text":"t{{i}}"}""");
        }
    }

    public Task NoticeAsync(string data) => WriteAsync($"event: error\ndata: {data}\n\n");

    public void End() => _pipe.Writer.Complete();

    public void Cut() => _pipe.Writer.Complete(new IOException("connection reset"));
}
