using System.Text.Json;
using System.Text.Json.Serialization;

namespace Sluice.Http.Requests;

// The request bodies as the wire has them, before the rules that span fields. Every property is optional at
// this level so a missing field gets Sluice's own message; a field of the wrong type fails deserialization
// with its JSON path, which becomes the problem's `param`.

/// <summary><c>POST /v1/generations</c> (API.md section 4).</summary>
internal sealed record GenerationBody(
    string? Model,
    IReadOnlyList<MessageBody?>? Messages,
    PromptReferenceBody? Prompt,
    int? MaxTokens,
    double? Temperature,
    ResponseContractBody? ResponseContract,
    string? Channel,
    JsonElement? Metadata,
    SimulateBody? Simulate);

/// <summary><c>POST /v1/chat/completions</c>: the part of OpenAI's request Sluice reads; the rest is ignored as OpenAI-compatible servers do.</summary>
internal sealed record ChatCompletionBody(
    string? Model,
    IReadOnlyList<MessageBody?>? Messages,
    bool? Stream,
    StreamOptionsBody? StreamOptions,
    int? MaxTokens,
    int? MaxCompletionTokens,
    double? Temperature,
    IReadOnlyList<ToolBody?>? Tools,
    ResponseFormatBody? ResponseFormat,
    SimulateBody? Simulate);

/// <summary><c>POST /v1/streams/{id}/events</c>: one event, or a batch under <c>events</c>.</summary>
internal sealed record PublishBody(string? Type, JsonElement? Data, IReadOnlyList<EventBody?>? Events);

internal sealed record EventBody(string? Type, JsonElement? Data);

/// <summary>One chat message, shared by both bodies: <c>content</c> is a string or an array of text parts.</summary>
internal sealed record MessageBody(string? Role, MessageContent? Content, IReadOnlyList<ToolCallBody?>? ToolCalls, string? ToolCallId, string? Name);

internal sealed record ToolCallBody(string? Id, string? Type, FunctionCallBody? Function);

internal sealed record FunctionCallBody(string? Name, string? Arguments);

internal sealed record PromptReferenceBody(string? Id, int? Version, Dictionary<string, JsonElement>? Variables);

internal sealed record ResponseContractBody(string? Type, JsonElement? Schema);

internal sealed record StreamOptionsBody(bool? IncludeUsage);

internal sealed record ToolBody(string? Type, FunctionBody? Function);

internal sealed record FunctionBody(string? Name, string? Description, JsonElement? Parameters);

internal sealed record ResponseFormatBody(string? Type, JsonSchemaFormatBody? JsonSchema);

internal sealed record JsonSchemaFormatBody(string? Name, JsonElement? Schema, bool? Strict);

/// <summary>The simulated provider's per-run shape (API.md section 5); an unknown field is refused, not ignored.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
internal sealed record SimulateBody(
    int? TtftMs, double? TokensPerSecond, int? OutputTokens, string? Fail, int? FailAfterTokens, int? ToolCalls, int? Citations, int? Seed, string? Text);

/// <summary>A message's text: a JSON string, or an array of <c>{"type":"text","text":...}</c> parts joined.</summary>
[JsonConverter(typeof(MessageContentConverter))]
internal sealed record MessageContent(string Text);

internal sealed class MessageContentConverter : JsonConverter<MessageContent>
{
    public override MessageContent? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                return null;
            case JsonTokenType.String:
                return new MessageContent(reader.GetString()!);
            case JsonTokenType.StartArray:
                var text = new System.Text.StringBuilder();
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    if (reader.TokenType != JsonTokenType.StartObject)
                    {
                        throw new JsonException("content parts must be {\"type\":\"text\",\"text\":...}.");
                    }

                    string? part = null;
                    while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
                    {
                        var name = reader.GetString();
                        reader.Read();
                        if (name == "text" && reader.TokenType == JsonTokenType.String)
                        {
                            part = reader.GetString();
                        }
                        else
                        {
                            reader.Skip();
                        }
                    }

                    text.Append(part ?? throw new JsonException("content parts must be {\"type\":\"text\",\"text\":...}."));
                }

                return new MessageContent(text.ToString());
            default:
                throw new JsonException("content must be a string or an array of text parts.");
        }
    }

    public override void Write(Utf8JsonWriter writer, MessageContent value, JsonSerializerOptions options) => writer.WriteStringValue(value.Text);
}

/// <summary>
/// Source-generated (de)serialization for every request body: no reflection at run time, and one set of
/// options for all of them: snake_case names, numbers only as numbers (<c>"max_tokens":"5"</c> is refused,
/// as OpenAI refuses it), depth bounded.
/// </summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web,
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    NumberHandling = JsonNumberHandling.Strict,
    MaxDepth = 64)]
[JsonSerializable(typeof(GenerationBody))]
[JsonSerializable(typeof(PublishBody))]
[JsonSerializable(typeof(Keys.KeysApi.CreateKeyRequest))]
[JsonSerializable(typeof(Streams.StreamsApi.TokenRequest))]
[JsonSerializable(typeof(Admin.AdminApi.BroadcastRequest))]
[JsonSerializable(typeof(Admin.AdminApi.EmergencyRequest))]
[JsonSerializable(typeof(Admin.AdminApi.CircuitBreakerRequest))]
[JsonSerializable(typeof(Admin.AdminApi.LimitsRequest))]
[JsonSerializable(typeof(Ops.ProvidersOpsApi.KillRequest))]
[JsonSerializable(typeof(Ops.RollbacksApi.RollbackRequest))]
[JsonSerializable(typeof(Generations.PromptsApi.VersionRequest))]
[JsonSerializable(typeof(ChatCompletionBody))]
internal sealed partial class RequestJsonContext : JsonSerializerContext;
