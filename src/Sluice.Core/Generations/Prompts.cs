namespace Sluice.Generations;

/// <summary>One version of a registered prompt (API.md section 5).</summary>
internal sealed record PromptVersion(string PromptId, int Version, string Template, string? Model, string? ParamsJson, DateTimeOffset CreatedAt);

/// <summary>A prompt's versions, oldest first, and the approved (active) one, if any.</summary>
internal sealed record Prompt(string Id, IReadOnlyList<PromptVersion> Versions, int? ActiveVersion);

/// <summary>The prompt registry: versions are numbered 1, 2, … per prompt and per tenant; one may be active.</summary>
internal interface IPromptStore
{
    ValueTask<PromptVersion> AddVersionAsync(string tenant, string promptId, string template, string? model, string? paramsJson, DateTimeOffset at, CancellationToken cancellationToken);

    /// <summary>Makes the version active; false when the prompt has no such version.</summary>
    ValueTask<bool> ActivateAsync(string tenant, string promptId, int version, CancellationToken cancellationToken);

    ValueTask<Prompt?> GetAsync(string tenant, string promptId, CancellationToken cancellationToken);
}
