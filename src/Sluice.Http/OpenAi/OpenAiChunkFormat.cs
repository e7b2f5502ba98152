using System.Buffers;
using System.Text;
using System.Text.Json;
using Sluice.Errors;
using Sluice.Generations;
using Sluice.Streams;

namespace Sluice.Http.OpenAi;

/// <summary>
/// A generation's events as OpenAI <c>chat.completion.chunk</c> events (API.md section 4), each with the
/// event's <c>id:</c> so the stream resumes with Last-Event-ID like any other. Sluice's own events without an
/// OpenAI counterpart (citations, custom types) become empty-delta chunks carrying a <c>sluice_*</c> field,
/// which OpenAI SDKs ignore; a heartbeat is an SSE comment. Chunks are encoded once per event and shared.
/// </summary>
internal sealed class OpenAiChunkFormat : SseEventFormat
{
    private static readonly byte[] KeepAlive = Encoding.UTF8.GetBytes(": keep-alive\n\n");
    private static readonly byte[] Done = Encoding.UTF8.GetBytes("data: [DONE]\n\n");
    private readonly Context _context;
    private readonly bool _includeUsage;

    public OpenAiChunkFormat(GenerationRecord record, bool includeUsage)
    {
        _context = new Context("chatcmpl-" + record.Id, record.CreatedAt.ToUnixTimeSeconds(), record.Model);
        _includeUsage = includeUsage;
    }

    public override ReadOnlyMemory<byte> Heartbeat => KeepAlive;

    private bool _failed;

    // [DONE] is part of the terminal frame that earns it: a stream that failed or was cancelled ends with an
    // error chunk and no [DONE], then the cut, so no OpenAI client can take it for a finished answer.
    public override bool CutAfterTerminal => _failed;

    public override ReadOnlyMemory<byte> Frame(StoredEvent e)
    {
        if (e.Type is EventTypes.Error or EventTypes.StoreLostEvents)
        {
            _failed = true;
        }

        if (e.Type != EventTypes.Done)
        {
            return e.AlternateFrame(static (ev, c) => Encode(ev, (c, false)), _context);
        }

        // The done chunk depends on include_usage, so it is built per connection; every other chunk is shared.
        using (var data = JsonDocument.Parse(e.Data))
        {
            _failed |= Str(data.RootElement, "finish_reason") == "cancelled";
        }

        return Encode(e, (_context, _includeUsage));
    }

    private static byte[] Encode(StoredEvent e, (Context Context, bool IncludeUsage) state)
    {
        using var data = JsonDocument.Parse(e.Data);
        var root = data.RootElement;
        if (e.Type is EventTypes.Error or EventTypes.StoreLostEvents)
        {
            return ErrorFrame(e.Id, Str(root, "message") ?? "The generation failed.", "server_error", Str(root, "code"),
                root.TryGetProperty("retryable", out var r) && r.ValueKind == JsonValueKind.True);
        }

        if (e.Type == EventTypes.Done && Str(root, "finish_reason") == "cancelled")
        {
            // OpenAI has no finish_reason for it, and "stop" would be a lie: an error the SDKs raise.
            return ErrorFrame(e.Id, "The generation was cancelled before it finished.", "cancelled", ErrorCodes.GenerationCancelled, false);
        }

        var chunk = Chunk(state.Context, w =>
        {
            switch (e.Type)
            {
                case EventTypes.Token:
                    Delta(w, d => d.WriteString("content", Str(root, "text")), null);
                    break;
                case EventTypes.Tool:
                    Delta(w, d =>
                    {
                        d.WriteStartArray("tool_calls");
                        d.WriteStartObject();
                        d.WriteNumber("index", root.TryGetProperty("index", out var i) && i.TryGetInt32(out var index) ? index : 0);
                        d.WriteString("id", Str(root, "call_id"));
                        d.WriteString("type", "function");
                        d.WriteStartObject("function");
                        d.WriteString("name", Str(root, "name"));
                        d.WriteString("arguments", root.TryGetProperty("arguments", out var a) ? a.GetRawText() : "{}");
                        d.WriteEndObject();
                        d.WriteEndObject();
                        d.WriteEndArray();
                    }, null);
                    break;
                case EventTypes.Done:
                    var reason = Str(root, "finish_reason") ?? "stop";
                    Delta(w, null, reason is "stop" or "length" or "tool_calls" ? reason : "stop");
                    break;
                case EventTypes.SafeResponse:
                    Delta(w, d => d.WriteString("content", Str(root, "text")), "content_filter");
                    w.WriteStartObject("sluice_safe_response");
                    w.WriteString("reason", Str(root, "reason"));
                    w.WriteEndObject();
                    break;
                default:
                    Delta(w, null, null);
                    w.WritePropertyName(e.Type == EventTypes.Citation ? "sluice_citation" : "sluice_event");
                    root.WriteTo(w);
                    break;
            }
        });

        var frame = SseFrames.EncodeMessage(chunk, e.Id);
        if (e.Type == EventTypes.SafeResponse)
        {
            return [.. frame, .. Done];
        }

        if (e.Type != EventTypes.Done)
        {
            return frame;
        }

        if (!state.IncludeUsage)
        {
            return [.. frame, .. Done];
        }

        // include_usage: OpenAI's last chunk has no choices and the usage; it carries the same id as the done chunk.
        root.TryGetProperty("usage", out var usage);
        var input = usage.ValueKind == JsonValueKind.Object && usage.TryGetProperty("input_tokens", out var it) ? it.GetInt64() : 0;
        var output = usage.ValueKind == JsonValueKind.Object && usage.TryGetProperty("output_tokens", out var ot) ? ot.GetInt64() : 0;
        var usageChunk = SseFrames.EncodeMessage(Chunk(state.Context, w =>
        {
            w.WriteStartArray("choices");
            w.WriteEndArray();
            w.WriteStartObject("usage");
            w.WriteNumber("prompt_tokens", input);
            w.WriteNumber("completion_tokens", output);
            w.WriteNumber("total_tokens", input + output);
            w.WriteEndObject();
        }, includeUsageNull: false), e.Id);
        return [.. frame, .. usageChunk, .. Done];
    }

    private static byte[] ErrorFrame(long id, string message, string type, string? code, bool retryable) =>
        SseFrames.EncodeMessage(Json(w =>
        {
            w.WriteStartObject("error");
            w.WriteString("message", message);
            w.WriteString("type", type);
            w.WriteNull("param");
            w.WriteString("code", code);
            w.WriteBoolean("retryable", retryable);
            w.WriteEndObject();
        }), id);

    private static void Delta(Utf8JsonWriter w, Action<Utf8JsonWriter>? content, string? finishReason)
    {
        w.WriteStartArray("choices");
        w.WriteStartObject();
        w.WriteNumber("index", 0);
        w.WriteStartObject("delta");
        if (content is not null)
        {
            w.WriteString("role", "assistant");
            content(w);
        }

        w.WriteEndObject();
        w.WriteNull("logprobs");
        if (finishReason is null)
        {
            w.WriteNull("finish_reason");
        }
        else
        {
            w.WriteString("finish_reason", finishReason);
        }

        w.WriteEndObject();
        w.WriteEndArray();
    }

    private static string Chunk(Context context, Action<Utf8JsonWriter> body, bool includeUsageNull = true) => Json(w =>
    {
        w.WriteString("id", context.Id);
        w.WriteString("object", "chat.completion.chunk");
        w.WriteNumber("created", context.Created);
        w.WriteString("model", context.Model);
        w.WriteString("system_fingerprint", "sluice");
        body(w);
        if (includeUsageNull)
        {
            w.WriteNull("usage");
        }
    });

    internal static string Json(Action<Utf8JsonWriter> body)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            body(writer);
            writer.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static string? Str(JsonElement root, string name) =>
        root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private sealed record Context(string Id, long Created, string Model);
}
