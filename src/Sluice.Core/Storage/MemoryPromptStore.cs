using Sluice.Generations;

namespace Sluice.Storage;

/// <summary>The prompt registry in process memory.</summary>
internal sealed class MemoryPromptStore : IPromptStore
{
    private readonly object _lock = new();
    private readonly Dictionary<(string Tenant, string Id), (List<PromptVersion> Versions, int? Active)> _prompts = [];

    public ValueTask<PromptVersion> AddVersionAsync(string tenant, string promptId, string template, string? model, string? paramsJson, DateTimeOffset at, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (!_prompts.TryGetValue((tenant, promptId), out var prompt))
            {
                prompt = ([], null);
            }

            var version = new PromptVersion(promptId, prompt.Versions.Count + 1, template, model, paramsJson, at);
            prompt.Versions.Add(version);
            _prompts[(tenant, promptId)] = prompt;
            return ValueTask.FromResult(version);
        }
    }

    public ValueTask<bool> ActivateAsync(string tenant, string promptId, int version, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (!_prompts.TryGetValue((tenant, promptId), out var prompt) || version < 1 || version > prompt.Versions.Count)
            {
                return ValueTask.FromResult(false);
            }

            _prompts[(tenant, promptId)] = (prompt.Versions, version);
            return ValueTask.FromResult(true);
        }
    }

    public ValueTask<Prompt?> GetAsync(string tenant, string promptId, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            return ValueTask.FromResult(_prompts.TryGetValue((tenant, promptId), out var p) ? new Prompt(promptId, [.. p.Versions], p.Active) : null);
        }
    }
}
