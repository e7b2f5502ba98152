using System.Text.Json;
using System.Text.Json.Serialization;

namespace Sluice.Client;

/// <summary>A new generation (<c>POST /v1/generations</c>, API.md section 4).</summary>
public sealed class SluiceGenerationRequest
{
    /// <summary><c>provider/model</c> or an alias, e.g. <c>simulated/default</c>.</summary>
    [JsonPropertyName("model")]
    public required string Model { get; set; }

    /// <summary>The conversation so far.</summary>
    [JsonPropertyName("messages")]
    public IList<SluiceMessage> Messages { get; set; } = [];

    /// <summary>At most this many output tokens.</summary>
    [JsonPropertyName("max_tokens")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? MaxTokens { get; set; }

    /// <summary>Sampling temperature.</summary>
    [JsonPropertyName("temperature")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? Temperature { get; set; }

    /// <summary>A label for operators (a feature, a product surface).</summary>
    [JsonPropertyName("channel")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Channel { get; set; }

    /// <summary>Free-form labels stored with the generation.</summary>
    [JsonPropertyName("metadata")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IDictionary<string, string>? Metadata { get; set; }

    /// <summary>Other request fields as JSON (<c>response_contract</c>, <c>prompt</c>, <c>simulate</c>).</summary>
    [JsonExtensionData]
    public IDictionary<string, JsonElement>? AdditionalProperties { get; set; }
}

/// <summary>One message of a conversation.</summary>
public sealed class SluiceMessage(string role, string content)
{
    /// <summary><c>system</c>, <c>user</c> or <c>assistant</c>.</summary>
    [JsonPropertyName("role")]
    public string Role { get; } = role;

    /// <summary>The text.</summary>
    [JsonPropertyName("content")]
    public string Content { get; } = content;
}

/// <summary>A generation as Sluice reports it (<c>GET /v1/generations/{id}</c>; the create answer fills fewer fields).</summary>
public sealed class SluiceGeneration
{
    /// <summary>The id, <c>gen_...</c>.</summary>
    [JsonPropertyName("id")]
    public string Id { get; set; } = "";

    /// <summary><c>queued</c>, <c>running</c>, <c>succeeded</c>, <c>failed</c> or <c>cancelled</c>.</summary>
    [JsonPropertyName("status")]
    public string Status { get; set; } = "";

    /// <summary>The SSE URL with a short-lived access token (create answer only).</summary>
    [JsonPropertyName("events_url")]
    public string? EventsUrl { get; set; }

    /// <summary>The model as asked.</summary>
    [JsonPropertyName("model")]
    public string? Model { get; set; }

    /// <summary>The provider that ran it.</summary>
    [JsonPropertyName("provider")]
    public string? Provider { get; set; }

    /// <summary><c>stop</c>, <c>length</c>, <c>tool_calls</c> or <c>cancelled</c> once it finished.</summary>
    [JsonPropertyName("finish_reason")]
    public string? FinishReason { get; set; }

    /// <summary>Token counts, when the provider said.</summary>
    [JsonPropertyName("usage")]
    public SluiceUsage? Usage { get; set; }

    /// <summary>Time to first token, ms.</summary>
    [JsonPropertyName("ttft_ms")]
    public long? TtftMs { get; set; }

    /// <summary>End to end, ms.</summary>
    [JsonPropertyName("e2e_ms")]
    public long? E2eMs { get; set; }

    /// <summary>The id of its last event so far.</summary>
    [JsonPropertyName("last_event_id")]
    public long LastEventId { get; set; }

    /// <summary>Why it failed, if it did.</summary>
    [JsonPropertyName("error")]
    public SluiceError? Error { get; set; }

    /// <summary>When it was created.</summary>
    [JsonPropertyName("created_at")]
    public DateTimeOffset CreatedAt { get; set; }
}

/// <summary>Token counts of a generation.</summary>
public sealed class SluiceUsage
{
    /// <summary>Prompt tokens.</summary>
    [JsonPropertyName("input_tokens")]
    public long? InputTokens { get; set; }

    /// <summary>Output tokens.</summary>
    [JsonPropertyName("output_tokens")]
    public long? OutputTokens { get; set; }
}

/// <summary>A stored failure: a stable code and a message.</summary>
public sealed class SluiceError
{
    /// <summary>The code (<c>provider_unavailable</c>, <c>worker_lost</c>, ...).</summary>
    [JsonPropertyName("code")]
    public string Code { get; set; } = "";

    /// <summary>For people.</summary>
    [JsonPropertyName("message")]
    public string? Message { get; set; }
}

/// <summary>A short-lived access token for one stream or generation (<c>POST .../tokens</c>).</summary>
public sealed class SluiceAccessToken
{
    /// <summary>The token itself.</summary>
    [JsonPropertyName("access_token")]
    public string AccessToken { get; set; } = "";

    /// <summary>The SSE URL that carries it, ready for an <c>EventSource</c>.</summary>
    [JsonPropertyName("events_url")]
    public string EventsUrl { get; set; } = "";

    /// <summary>When it stops working; an SSE response opened with it ends then.</summary>
    [JsonPropertyName("expires_at")]
    public DateTimeOffset ExpiresAt { get; set; }
}

/// <summary>One event to publish to a stream (<c>POST /v1/streams/{id}/events</c>).</summary>
public sealed class SluicePublishEvent(string type, JsonElement data)
{
    /// <summary><c>token</c>, <c>done</c>, <c>x-...</c> (API.md section 2).</summary>
    [JsonPropertyName("type")]
    public string Type { get; } = type;

    /// <summary>A JSON object.</summary>
    [JsonPropertyName("data")]
    public JsonElement Data { get; } = data;

    /// <summary>An event whose data is <paramref name="data"/> serialized.</summary>
    public static SluicePublishEvent Create<T>(string type, T data) => new(type, JsonSerializer.SerializeToElement(data));
}

[JsonSerializable(typeof(SluiceGenerationRequest))]
[JsonSerializable(typeof(SluiceGeneration))]
[JsonSerializable(typeof(SluiceAccessToken))]
[JsonSerializable(typeof(PublishBatch))]
[JsonSerializable(typeof(PublishResult))]
[JsonSerializable(typeof(TokenRequest))]
internal sealed partial class SluiceJsonContext : JsonSerializerContext;

internal sealed record PublishBatch([property: JsonPropertyName("events")] IReadOnlyList<SluicePublishEvent> Events);

internal sealed record PublishResult([property: JsonPropertyName("ids")] long[] Ids);

internal sealed record TokenRequest([property: JsonPropertyName("ttl_seconds"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? TtlSeconds);
