namespace Sluice.Generations;

/// <summary>One version of a registered prompt (API.md section 5).</summary>
internal sealed record PromptVersion(string PromptId, int Version, string Template, string? Model, string? ParamsJson, DateTimeOffset CreatedAt);

/// <summary>A prompt's versions, oldest first, and the approved (active) one, if any.</summary>
internal sealed record Prompt(string Id, IReadOnlyList<PromptVersion> Versions, int? ActiveVersion);
