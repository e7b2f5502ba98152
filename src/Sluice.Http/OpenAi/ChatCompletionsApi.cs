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
using Sluice.Http.Streams;
using Sluice.Streams;

namespace Sluice.Http.OpenAi;

/// <summary>
/// <c>POST /v1/chat/completions</c> in OpenAI's request and wire format, so unmodified OpenAI SDKs work. Every
/// request is a generation like any other: it runs to its end if the client drops, and its stream is
/// resumable at <c>GET /v1/generations/{id}/events?format=openai</c>. Errors take OpenAI's shape.
/// </summary>
internal static class ChatCompletionsApi
{
    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 64 };

    public static IEndpointRouteBuilder MapChatCompletionsApi(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapPost("/v1/chat/completions", CompleteAsync).RequireAuthorization(SluicePolicies.Generate);
        return endpoints;
    }

    internal static async Task CompleteAsync(HttpContext context, GenerationService generations, SseResponder responder, StreamHub hub, IOptionsMonitor<SluiceOptions> options)
    {
        if (!context.TryResolveTenant(out var tenant))
        {
            await ErrorAsync(context, 403, "permission_error", "tenant_mismatch", "X-Tenant-Key must name the credential's own tenant.");
            return;
        }

        var body = await GenerationsApi.ReadBodyAsync(context);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body, DocumentOptions);
        }
        catch (JsonException ex)
        {
            await ErrorAsync(context, 400, "invalid_request_error", "invalid_json", "The body is not valid JSON: " + ex.Message);
            return;
        }

        GenerationRequest request;
        bool stream, includeUsage;
        using (document)
        {
            var read = Read(document.RootElement, options.CurrentValue.Generations);
            if (read.Error is { } error)
            {
                await ErrorAsync(context, 400, "invalid_request_error", read.Code!, error, read.Param);
                return;
            }

            (request, stream, includeUsage) = (read.Request!, read.Stream, read.IncludeUsage);
        }

        if (GenerationsApi.ReadIdempotencyKey(context, out var key) is not null)
        {
            await ErrorAsync(context, 400, "invalid_request_error", "invalid_idempotency_key", "Idempotency-Key must be 1 to 255 visible ASCII characters.");
            return;
        }

        var outcome = await generations.CreateAsync(tenant, request, key, GenerationsApi.Hash(body), context.Features.Get<TraceIdFeature>()?.TraceId, context.RequestAborted);
        switch (outcome.Kind)
        {
            case CreateKind.Invalid:
                await ErrorAsync(context, outcome.Code == "unknown_model" ? 404 : 400, "invalid_request_error", outcome.Code!, outcome.Message!,
                    outcome.Code == "unknown_model" ? "model" : null);
                return;
            case CreateKind.Conflict:
                await ErrorAsync(context, 422, "invalid_request_error", outcome.Code!, outcome.Message!);
                return;
            case CreateKind.QuotaExceeded:
                context.Response.Headers.RetryAfter = "1";
                await ErrorAsync(context, 429, "rate_limit_error", outcome.Code!, outcome.Message!);
                return;
            case CreateKind.Busy:
                context.Response.Headers.RetryAfter = "1";
                await ErrorAsync(context, 503, "server_error", "overloaded", outcome.Message!);
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
            await ErrorAsync(context, 409, "cancelled", ErrorCodes.GenerationCancelled, "The generation was cancelled before it finished.");
            return;
        }

        if (finished.Status == GenerationStatus.Failed && finished.ErrorCode != ErrorCodes.ContractViolation)
        {
            var status = finished.ErrorCode is ErrorCodes.RateLimited ? 429 : finished.ErrorCode is ErrorCodes.ProviderTimeout ? 504 : 502;
            await ErrorAsync(context, status, "server_error", finished.ErrorCode ?? "internal", finished.ErrorMessage ?? "The generation failed.");
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

    private static (GenerationRequest? Request, bool Stream, bool IncludeUsage, string? Code, string? Error, string? Param) Read(JsonElement root, GenerationOptions limits)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            return (null, false, false, "invalid_request", "The body must be a JSON object.", null);
        }

        if (!root.TryGetProperty("model", out var m) || m.ValueKind != JsonValueKind.String || m.GetString() is not { Length: > 0 } model)
        {
            return (null, false, false, "invalid_request", "model is required.", "model");
        }

        if (!root.TryGetProperty("messages", out var list))
        {
            return (null, false, false, "empty_messages", "messages is required.", "messages");
        }

        var (messages, messageError) = GenerationRequestReader.ReadMessages(list, limits.MaxMessages);
        if (messageError is not null || messages!.Count == 0)
        {
            return (null, false, false, messageError is null ? "empty_messages" : "invalid_messages", messageError ?? "messages must hold at least one message.", "messages");
        }

        var stream = root.TryGetProperty("stream", out var s) && s.ValueKind == JsonValueKind.True;
        var includeUsage = root.TryGetProperty("stream_options", out var so) && so.ValueKind == JsonValueKind.Object
            && so.TryGetProperty("include_usage", out var iu) && iu.ValueKind == JsonValueKind.True;

        int? maxTokens = null;
        foreach (var name in (string[])["max_completion_tokens", "max_tokens"])
        {
            if (root.TryGetProperty(name, out var mt) && mt.ValueKind != JsonValueKind.Null)
            {
                if (!mt.TryGetInt32(out var value) || value < 1 || value > limits.MaxOutputTokens)
                {
                    return (null, false, false, "invalid_request", $"{name} must be an integer from 1 to {limits.MaxOutputTokens}.", name);
                }

                maxTokens ??= value;
            }
        }

        float? temperature = null;
        if (root.TryGetProperty("temperature", out var t) && t.ValueKind != JsonValueKind.Null)
        {
            if (!t.TryGetDouble(out var value) || value is < 0 or > 2)
            {
                return (null, false, false, "invalid_request", "temperature must be a number from 0 to 2.", "temperature");
            }

            temperature = (float)value;
        }

        var tools = new List<AITool>();
        if (root.TryGetProperty("tools", out var ts) && ts.ValueKind == JsonValueKind.Array)
        {
            foreach (var tool in ts.EnumerateArray())
            {
                if (!tool.TryGetProperty("function", out var f) || !f.TryGetProperty("name", out var n) || n.ValueKind != JsonValueKind.String)
                {
                    return (null, false, false, "invalid_request", "tools must be [{\"type\":\"function\",\"function\":{\"name\",...}}].", "tools");
                }

                var schema = f.TryGetProperty("parameters", out var p) && p.ValueKind == JsonValueKind.Object
                    ? p.Clone()
                    : JsonDocument.Parse("{\"type\":\"object\"}").RootElement.Clone();
                tools.Add(AIFunctionFactory.CreateDeclaration(n.GetString()!, f.TryGetProperty("description", out var d) ? d.GetString() : null, schema));
            }
        }

        ResponseContract? contract = null;
        if (root.TryGetProperty("response_format", out var rf) && rf.ValueKind == JsonValueKind.Object
            && rf.TryGetProperty("type", out var rft) && rft.GetString() == "json_schema"
            && rf.TryGetProperty("json_schema", out var js) && js.TryGetProperty("schema", out var schemaElement))
        {
            if (!ResponseContract.TryCreate(schemaElement, out contract, out var schemaError))
            {
                return (null, false, false, "invalid_response_contract", "response_format.json_schema.schema is not a valid JSON Schema: " + schemaError, "response_format");
            }
        }

        // Sluice's extension, as an SDK's extra body field: shape a run of the simulated provider.
        var (simulate, simulateError) = GenerationRequestReader.ReadSimulateField(root);
        if (simulateError is not null)
        {
            return (null, false, false, "invalid_simulate", simulateError, "simulate");
        }

        return (new GenerationRequest
        {
            Model = model,
            Messages = messages,
            Simulate = simulate,
            MaxTokens = maxTokens,
            Temperature = temperature,
            Tools = tools,
            Contract = contract,
        }, stream, includeUsage, null, null, null);
    }

    private static Task ErrorAsync(HttpContext context, int status, string type, string code, string message, string? param = null)
    {
        context.Response.StatusCode = status;
        return Results.Text(OpenAiChunkFormat.Json(w =>
        {
            w.WriteStartObject("error");
            w.WriteString("message", message);
            w.WriteString("type", type);
            if (param is null)
            {
                w.WriteNull("param");
            }
            else
            {
                w.WriteString("param", param);
            }

            w.WriteString("code", code);
            w.WriteEndObject();
        }), "application/json", statusCode: status).ExecuteAsync(context);
    }
}
