using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;
using Sluice.Configuration;
using Sluice.Errors;
using Sluice.Fanout;
using Sluice.Generations;
using Sluice.Http.Auth;
using Sluice.Http.Diagnostics;
using Sluice.Http.Generations;
using Sluice.Http.Requests;
using Sluice.Http.Streams;
using Sluice.Streams;

using Sluice.Http.Problems;
using Sluice.Http.Documentation;

namespace Sluice.Http.OpenAi;

/// <summary>
/// <c>POST /v1/chat/completions</c> in OpenAI's request and wire format, so unmodified OpenAI SDKs work. Every
/// request is a generation like any other: it runs to its end if the client drops, and its stream is
/// resumable at <c>GET /v1/generations/{id}/events?format=openai</c>. Errors take OpenAI's shape.
/// </summary>
internal static class ChatCompletionsApi
{
    public static IEndpointRouteBuilder MapChatCompletionsApi(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapPost("/v1/chat/completions", CompleteAsync).RequireAuthorization(SluicePolicies.Generate).RequireTenant().WithIdempotencyKey(required: false)
            .AcceptsJson<ChatCompletionBody>().ProducesEventStream(orJson: true).WithTags("OpenAI")
            .OpenAiErrors(400, 404, 409, 413, 422, 429, 502, 503, 504);
        return endpoints;
    }

    internal static async Task CompleteAsync(HttpContext context, GenerationService generations, SseResponder responder, StreamHub hub, IOptionsMonitor<SluiceOptions> options)
    {
        var tenant = context.Tenant();

        var (body, bytes, bodyError) = await RequestBody.ReadWithBytesAsync(context, RequestJsonContext.Default.ChatCompletionBody);
        var (request, error) = body is null ? (null, bodyError) : GenerationRequestReader.Read(body, options.CurrentValue.Generations);
        if (request is null)
        {
            await OpenAiError.WriteAsync(context, 400, "invalid_request_error", error!.Code, error.Message, error.Param);
            return;
        }

        var stream = body!.Stream == true;
        var includeUsage = body.StreamOptions?.IncludeUsage == true;

        var key = context.IdempotencyKey();

        var outcome = await generations.CreateAsync(tenant, request, key, GenerationsApi.Hash(bytes), context.Features.Get<TraceIdFeature>()?.TraceId, context.RequestAborted);
        switch (outcome.Kind)
        {
            case CreateKind.Invalid:
                await OpenAiError.WriteAsync(context, outcome.Code == ProblemCodes.UnknownModel ? 404 : 400, "invalid_request_error", outcome.Code!, outcome.Message!,
                    outcome.Code == ProblemCodes.UnknownModel ? "model" : null);
                return;
            case CreateKind.Conflict:
                await OpenAiError.WriteAsync(context, 422, "invalid_request_error", outcome.Code!, outcome.Message!);
                return;
            case CreateKind.QuotaExceeded:
                context.Response.Headers.RetryAfter = "1";
                await OpenAiError.WriteAsync(context, 429, "rate_limit_error", outcome.Code!, outcome.Message!);
                return;
            case CreateKind.Busy:
                context.Response.Headers.RetryAfter = "1";
                await OpenAiError.WriteAsync(context, 503, "server_error", ProblemCodes.Overloaded, outcome.Message!);
                return;
        }

        var record = outcome.Record!;
        context.Response.Headers[GenerationsApi.GenerationIdHeader] = record.Id;
        if (stream)
        {
            await responder.ServeAsync(context, record.StreamKey, new OpenAiChunkFormat(record, includeUsage), GenerationsApi.Pending(record));
            return;
        }

        var finished = await generations.WaitAsync(tenant, record.Id, context.RequestAborted) ?? record;
        var events = new List<StoredEvent>();
        var after = 0L;
        while (true)
        {
            var batch = await hub.ReadAsync(finished.StreamKey, after, 1024, context.RequestAborted);
            events.AddRange(batch);
            if (batch.Count < 1024)
            {
                break;
            }

            after = batch[^1].Id;
        }

        if (finished.Status == GenerationStatus.Cancelled)
        {
            await OpenAiError.WriteAsync(context, 409, "cancelled", ErrorCodes.GenerationCancelled, "The generation was cancelled before it finished.");
            return;
        }

        if (finished.Status == GenerationStatus.Failed && finished.ErrorCode != ErrorCodes.ContractViolation)
        {
            var status = finished.ErrorCode is ErrorCodes.RateLimited ? 429 : finished.ErrorCode is ErrorCodes.ProviderTimeout ? 504 : 502;
            await OpenAiError.WriteAsync(context, status, "server_error", finished.ErrorCode ?? "internal", finished.ErrorMessage ?? "The generation failed.");
            return;
        }

        await Results.Text(Completion(finished, events), "application/json").ExecuteAsync(context);
    }

    /// <summary>OpenAI's non-streaming <c>chat.completion</c> object, assembled from the stored events.</summary>
    private static string Completion(GenerationRecord record, List<StoredEvent> events) => OpenAiChunkFormat.Json(w =>
    {
        var text = new System.Text.StringBuilder();
        var finish = record.FinishReason ?? "stop";
        w.WriteString("id", "chatcmpl-" + record.Id);
        w.WriteString("object", "chat.completion");
        w.WriteNumber("created", record.CreatedAt.ToUnixTimeSeconds());
        w.WriteString("model", record.Model);
        w.WriteString("system_fingerprint", "sluice");
        w.WriteStartArray("choices");
        w.WriteStartObject();
        w.WriteNumber("index", 0);
        w.WriteStartObject("message");
        w.WriteString("role", "assistant");
        var tools = events.Where(e => e.Type == EventTypes.Tool).ToList();
        foreach (var e in events)
        {
            if (e.Type is EventTypes.Token or EventTypes.SafeResponse)
            {
                using var doc = JsonDocument.Parse(e.Data);
                text.Append(doc.RootElement.GetProperty("text").GetString());
            }
        }

        w.WriteString("content", text.ToString());
        w.WriteNull("refusal");
        if (tools.Count > 0)
        {
            w.WriteStartArray("tool_calls");
            foreach (var e in tools)
            {
                using var doc = JsonDocument.Parse(e.Data);
                var root = doc.RootElement;
                w.WriteStartObject();
                w.WriteString("id", root.GetProperty("call_id").GetString());
                w.WriteString("type", "function");
                w.WriteStartObject("function");
                w.WriteString("name", root.GetProperty("name").GetString());
                w.WriteString("arguments", root.GetProperty("arguments").GetRawText());
                w.WriteEndObject();
                w.WriteEndObject();
            }

            w.WriteEndArray();
        }

        w.WriteEndObject();
        w.WriteNull("logprobs");
        w.WriteString("finish_reason", finish is "stop" or "length" or "tool_calls" ? finish : finish == ErrorCodes.ContractViolation ? "content_filter" : "stop");
        w.WriteEndObject();
        w.WriteEndArray();
        w.WriteStartObject("usage");
        w.WriteNumber("prompt_tokens", record.InputTokens ?? 0);
        w.WriteNumber("completion_tokens", record.OutputTokens ?? 0);
        w.WriteNumber("total_tokens", (record.InputTokens ?? 0) + (record.OutputTokens ?? 0));
        w.WriteEndObject();
    });
}
