using Sluice.Streams;

namespace Sluice.Generations;

/// <summary>
/// A generation as the store keeps it beside its events (API.md section 4, <c>GET /v1/generations/{id}</c>).
/// Updated by the runner at start and at the end; the events themselves live in the generation's stream.
/// </summary>
internal sealed record GenerationRecord
{
    public required string Id { get; init; }

    public required string Tenant { get; init; }

    public GenerationStatus Status { get; init; }

    /// <summary>The model as requested: <c>provider/model</c> or an alias.</summary>
    public required string Model { get; init; }

    /// <summary>The provider that served it (the last one tried), once it ran.</summary>
    public string? Provider { get; init; }

    /// <summary>The provider's model name.</summary>
    public string? ProviderModel { get; init; }

    public string? FinishReason { get; init; }

    public long? InputTokens { get; init; }

    public long? OutputTokens { get; init; }

    public long? TtftMs { get; init; }

    public long? E2eMs { get; init; }

    public long LastEventId { get; init; }

    public string? ErrorCode { get; init; }

    public string? ErrorMessage { get; init; }

    public string? TraceId { get; init; }

    public string? Channel { get; init; }

    public string? PromptId { get; init; }

    public int? PromptVersion { get; init; }

    public DateTimeOffset CreatedAt { get; init; }

    public DateTimeOffset? StartedAt { get; init; }

    public DateTimeOffset? CompletedAt { get; init; }

    /// <summary>The stream that holds this generation's events. Not addressable through <c>/v1/streams</c> ('/' is not a stream id character), so no publisher can write into it.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public StreamKey StreamKey => StreamKeyOf(Tenant, Id);

    public static StreamKey StreamKeyOf(string tenant, string id) => new(tenant, StreamPrefix + id);

    /// <summary>What a generation's stream id starts with, before the generation's id.</summary>
    public const string StreamPrefix = "generation/";
}
