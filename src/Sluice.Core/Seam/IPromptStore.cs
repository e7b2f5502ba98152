namespace Sluice.Generations;

/// <summary>The prompt registry: versions are numbered 1, 2, … per prompt and per tenant; one may be active.</summary>
internal interface IPromptStore
{
    ValueTask<PromptVersion> AddVersionAsync(string tenant, string promptId, string template, string? model, string? paramsJson, DateTimeOffset at, CancellationToken cancellationToken);

    /// <summary>Makes the version active; false when the prompt has no such version.</summary>
    ValueTask<bool> ActivateAsync(string tenant, string promptId, int version, CancellationToken cancellationToken);

    ValueTask<Prompt?> GetAsync(string tenant, string promptId, CancellationToken cancellationToken);
}
