using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Sluice.Testing;

/// <summary>
/// A local LLM upstream on 127.0.0.1 that answers in the providers' real wire formats, byte for byte as
/// OpenAI's <c>/v1/chat/completions</c> and Anthropic's <c>/v1/messages</c> stream them. The model name picks
/// the scenario. It records each request and whether the caller aborted it.
/// </summary>
public sealed class FakeUpstream : IAsyncDisposable
{
    private readonly WebApplication _app;

    private FakeUpstream(WebApplication app)
    {
        _app = app;
        BaseAddress = app.Address();
    }

    public Uri BaseAddress { get; }

    public ConcurrentQueue<UpstreamRequest> Requests { get; } = new();

    /// <summary>While true, chat completions answer 500 with OpenAI's error body (an outage).</summary>
    public bool Failing { get; set; }

    /// <summary>Completes when a request of the <c>*-slow</c> scenarios is aborted by its caller.</summary>
    public TaskCompletionSource Aborted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public static async Task<FakeUpstream> StartAsync()
    {
        FakeUpstream? self = null;
        var app = await LoopbackApp.StartAsync(app =>
        {
            app.MapPost("/v1/chat/completions", (HttpContext c) => self!.OpenAiAsync(c));
            app.MapPost("/v1/messages", (HttpContext c) => self!.AnthropicAsync(c));
        });
        self = new FakeUpstream(app);
        return self;
    }

    public const string OpenAiText = "Hello from the upstream.";

    public const string AnthropicText = "Hello from Claude.";

    private async Task OpenAiAsync(HttpContext context)
    {
        var request = await RecordAsync(context);
        var model = request.Body.GetProperty("model").GetString()!;
        if (Failing)
        {
            context.Response.StatusCode = 500;
            context.Response.ContentType = "application/json";
            await WriteAsync(context, "{\"error\":{\"message\":\"The server had an error while processing your request.\",\"type\":\"server_error\",\"param\":null,\"code\":null}}");
            return;
        }

        context.Response.ContentType = "text/event-stream";
        const string head = "\"id\":\"chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG\",\"object\":\"chat.completion.chunk\",\"created\":1741570283,\"model\":\"gpt-4o-mini-2024-07-18\",\"service_tier\":\"default\",\"system_fingerprint\":\"fp_06737a9306\"";
        var chunks = new List<string>
        {
            "{" + head + ",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}",
        };
        if (model == "gpt-tools")
        {
            chunks.Add("{" + head + ",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Checking.\"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}");
            chunks.Add("{" + head + ",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_FthC9qRpsL5kBpwwyw6c7j4k\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}}]},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}");
            chunks.Add("{" + head + ",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"ci\"}}]},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}");
            chunks.Add("{" + head + ",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"ty\\\": \\\"Paris\\\"}\"}}]},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}");
            chunks.Add("{" + head + ",\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"tool_calls\"}],\"usage\":null}");
        }
        else
        {
            foreach (var piece in new[] { "Hello", " from", " the", " upstream", "." })
            {
                chunks.Add("{" + head + ",\"choices\":[{\"index\":0,\"delta\":{\"content\":" + JsonSerializer.Serialize(piece) + "},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}");
                if (model == "gpt-slow")
                {
                    break;
                }
            }

            chunks.Add("{" + head + ",\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":null}");
        }

        chunks.Add("{" + head + ",\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":9,\"total_tokens\":21,\"prompt_tokens_details\":{\"cached_tokens\":0,\"audio_tokens\":0},\"completion_tokens_details\":{\"reasoning_tokens\":0,\"audio_tokens\":0,\"accepted_prediction_tokens\":0,\"rejected_prediction_tokens\":0}}}");
        for (var i = 0; i < chunks.Count; i++)
        {
            await WriteAsync(context, "data: " + chunks[i] + "\n\n");
            if (model == "gpt-slow" && i == 1)
            {
                await HoldUntilAbortedAsync(context);
                return;
            }
        }

        await WriteAsync(context, "data: [DONE]\n\n");
    }

    private async Task AnthropicAsync(HttpContext context)
    {
        var request = await RecordAsync(context);
        var model = request.Body.GetProperty("model").GetString()!;
        context.Response.ContentType = "text/event-stream; charset=utf-8";
        await WriteAsync(context, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_01XFDUDYJgAACzvnptvVoYEL\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5-20250929\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":25,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,\"output_tokens\":1,\"service_tier\":\"standard\"}}}\n\n");
        await WriteAsync(context, "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n");
        await WriteAsync(context, "event: ping\ndata: {\"type\": \"ping\"}\n\n");
        var pieces = new[] { "Hello", " from", " Claude", "." };
        for (var i = 0; i < pieces.Length; i++)
        {
            await WriteAsync(context, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":" + JsonSerializer.Serialize(pieces[i]) + "}}\n\n");
            if (model == "claude-overloaded" && i == 1)
            {
                await WriteAsync(context, "event: error\ndata: {\"type\": \"error\", \"error\": {\"type\": \"overloaded_error\", \"message\": \"Overloaded\"}}\n\n");
                return;
            }
        }

        await WriteAsync(context, "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n");
        await WriteAsync(context, "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":15}}\n\n");
        await WriteAsync(context, "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
    }

    private async Task<UpstreamRequest> RecordAsync(HttpContext context)
    {
        using var body = await JsonDocument.ParseAsync(context.Request.Body);
        var request = new UpstreamRequest(context.Request.Path, context.Request.Headers.Authorization.ToString(), context.Request.Headers["x-api-key"].ToString(), body.RootElement.Clone(), context.Request.Headers["traceparent"].ToString());
        Requests.Enqueue(request);
        return request;
    }

    private async Task HoldUntilAbortedAsync(HttpContext context)
    {
        try
        {
            await Task.Delay(Timeout.Infinite, context.RequestAborted);
        }
        catch (OperationCanceledException)
        {
            Aborted.TrySetResult();
        }
    }

    private static async Task WriteAsync(HttpContext context, string text)
    {
        await context.Response.Body.WriteAsync(Encoding.UTF8.GetBytes(text), context.RequestAborted);
        await context.Response.Body.FlushAsync(context.RequestAborted);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

public sealed record UpstreamRequest(string Path, string Authorization, string ApiKey, JsonElement Body, string Traceparent = "");
