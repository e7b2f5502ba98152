using Microsoft.Extensions.AI;
using Sluice.Configuration;

namespace Sluice.Generations;

/// <summary>A validated <c>POST /v1/generations</c> (or <c>/v1/chat/completions</c>) request.</summary>
internal sealed record GenerationRequest
{
    /// <summary>As requested; empty when a prompt reference supplies it.</summary>
    public string? Model { get; init; }

    public IReadOnlyList<ChatMessage> Messages { get; init; } = [];

    public PromptReference? Prompt { get; init; }

    public int? MaxTokens { get; init; }

    public float? Temperature { get; init; }

    public ResponseContract? Contract { get; init; }

    public string? Channel { get; init; }

    public SimulateOptions? Simulate { get; init; }

    public IReadOnlyList<AITool> Tools { get; init; } = [];
}

/// <summary><c>"prompt": {"id", "version"?, "variables"}</c>: the active version when none is named.</summary>
internal sealed record PromptReference(string Id, int? Version, IReadOnlyDictionary<string, string> Variables);
