using System.Buffers;
using System.Text;
using System.Text.Json;
using Sluice.Streams;

namespace Sluice.Generations;

/// <summary>
/// The data of a generation's events (API.md section 4), written as compact single-line JSON with
/// <see cref="Utf8JsonWriter"/>, which escapes CR and LF inside strings: no provider output can inject SSE fields.
/// </summary>
internal static class GenerationEvents
{
    public const string ContractViolationText = "The response was withheld because it did not satisfy its response contract.";

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_buffer;

    public static NewEvent Token(string text) => new(EventTypes.Token, Write(text, static (w, t) => w.WriteString("text", t)));

    public static NewEvent Tool(int index, string callId, string name, IDictionary<string, object?>? arguments) =>
        new(EventTypes.Tool, Write((index, callId, name, arguments), static (w, s) =>
        {
            w.WriteString("call_id", s.callId);
            w.WriteString("name", s.name);
            w.WritePropertyName("arguments");
            JsonSerializer.Serialize(w, s.arguments ?? new Dictionary<string, object?>(), Microsoft.Extensions.AI.AIJsonUtilities.DefaultOptions);
            w.WriteNumber("index", s.index);
        }));

    public static NewEvent Citation(int index, string? source, string? title, string? url, string? quote) =>
        new(EventTypes.Citation, Write((index, source, title, url, quote), static (w, s) =>
        {
            w.WriteNumber("index", s.index);
            WriteNullable(w, "source", s.source);
            WriteNullable(w, "title", s.title);
            WriteNullable(w, "url", s.url);
            WriteNullable(w, "quote", s.quote);
        }));

    public static NewEvent Done(string finishReason, long inputTokens, long outputTokens, long? ttftMs, long e2eMs, string? provider, string? model) =>
        new(EventTypes.Done, Write((finishReason, inputTokens, outputTokens, ttftMs, e2eMs, provider, model), static (w, s) =>
        {
            w.WriteString("finish_reason", s.finishReason);
            w.WriteStartObject("usage");
            w.WriteNumber("input_tokens", s.inputTokens);
            w.WriteNumber("output_tokens", s.outputTokens);
            w.WriteEndObject();
            if (s.ttftMs is { } ttft)
            {
                w.WriteNumber("ttft_ms", ttft);
            }
            else
            {
                w.WriteNull("ttft_ms");
            }

            w.WriteNumber("e2e_ms", s.e2eMs);
            WriteNullable(w, "provider", s.provider);
            WriteNullable(w, "model", s.model);
        }));

    public static NewEvent Error(string code, string message, bool retryable) =>
        new(EventTypes.Error, Write((code, message, retryable), static (w, s) =>
        {
            w.WriteString("code", s.code);
            w.WriteString("message", s.message);
            w.WriteBoolean("retryable", s.retryable);
        }));

    public static NewEvent SafeResponse(string text, string reason) =>
        new(EventTypes.SafeResponse, Write((text, reason), static (w, s) =>
        {
            w.WriteString("text", s.text);
            w.WriteString("reason", s.reason);
        }));

    private static void WriteNullable(Utf8JsonWriter writer, string name, string? value)
    {
        if (value is null)
        {
            writer.WriteNull(name);
        }
        else
        {
            writer.WriteString(name, value);
        }
    }

    private static string Write<T>(T state, Action<Utf8JsonWriter, T> body)
    {
        // One buffer per thread: events are built on the generation's hot path, one per token.
        var buffer = t_buffer ??= new ArrayBufferWriter<byte>(256);
        buffer.ResetWrittenCount();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            writer.WriteStartObject();
            body(writer, state);
            writer.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}

