using System.ClientModel;
using System.Collections.Concurrent;
using Anthropic;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;
using OpenAI;
using Sluice.Configuration;
using Sluice.Generations;
using Sluice.Providers.Simulated;

namespace Sluice.Providers;

/// <summary>
/// Providers and aliases from <c>Sluice:Providers</c> and <c>Sluice:Models</c>. <c>simulated</c> (with the model
/// <c>simulated/default</c>) exists unless configuration disables it. A client per provider and model is built
/// once and shared; each is wrapped in the classifying layer.
/// </summary>
internal sealed class ModelCatalog : IModelCatalog
{
    public const string SimulatedProvider = "simulated";

    private readonly Dictionary<string, ProviderOptions> _providers;
    private readonly Dictionary<string, ModelOptions> _aliases;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<(string Provider, string Model), IChatClient> _clients = new();
    private readonly IReadOnlyList<ModelRoute> _listed;

    private readonly IOptionsMonitor<SluiceOptions> _live;

    public ModelCatalog(IOptionsMonitor<SluiceOptions> options, TimeProvider time)
    {
        _time = time;
        _live = options;
        // Providers and aliases as they were at start; only a simulated provider's shape is read live (Target).
        _providers = Effective(options.CurrentValue.Providers);
        _aliases = new Dictionary<string, ModelOptions>(options.CurrentValue.Models, StringComparer.Ordinal);
        var listed = new List<ModelRoute>();
        foreach (var (name, provider) in _providers.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            foreach (var model in provider.Models)
            {
                listed.Add(new ModelRoute(name + "/" + model, name, [Target(name, provider, model)]));
            }
        }

        foreach (var alias in _aliases.Keys.Order(StringComparer.Ordinal))
        {
            if (TryResolve(alias, out var route))
            {
                listed.Add(route);
            }
        }

        _listed = listed;
    }

    /// <summary>The configured providers, plus <c>simulated</c> unless it is configured (and maybe disabled).</summary>
    internal static Dictionary<string, ProviderOptions> Effective(IReadOnlyDictionary<string, ProviderOptions> configured)
    {
        var providers = new Dictionary<string, ProviderOptions>(StringComparer.Ordinal);
        foreach (var (name, provider) in configured)
        {
            if (provider.Enabled)
            {
                if (provider.Type.Length == 0 && name == SimulatedProvider)
                {
                    provider.Type = ProviderTarget.SimulatedType;
                }

                if (provider.Type == ProviderTarget.SimulatedType && provider.Models.Length == 0)
                {
                    provider.Models = ["default"];
                }

                providers[name] = provider;
            }
        }

        if (!configured.ContainsKey(SimulatedProvider))
        {
            providers[SimulatedProvider] = new ProviderOptions { Type = ProviderTarget.SimulatedType, Models = ["default"] };
        }

        return providers;
    }

    public IReadOnlyList<ModelRoute> List() => _listed;

    public IReadOnlyList<string> Providers => [.. _providers.Keys.Order(StringComparer.Ordinal)];

    public bool TryResolve(string model, out ModelRoute route)
    {
        if (_aliases.TryGetValue(model, out var alias))
        {
            var chain = new List<ProviderTarget>(alias.Chain.Length);
            foreach (var link in alias.Chain)
            {
                if (TryTarget(link, out var target))
                {
                    chain.Add(target);
                }
            }

            route = new ModelRoute(model, "sluice", chain);
            return chain.Count > 0;
        }

        if (TryTarget(model, out var single))
        {
            route = new ModelRoute(model, single.Provider, [single]);
            return true;
        }

        route = null!;
        return false;
    }

    private bool TryTarget(string name, out ProviderTarget target)
    {
        target = null!;
        var slash = name.IndexOf('/', StringComparison.Ordinal);
        if (slash <= 0 || slash == name.Length - 1 || !_providers.TryGetValue(name[..slash], out var provider))
        {
            return false;
        }

        var model = name[(slash + 1)..];
        if ((provider.Models.Length > 0 || provider.Type == ProviderTarget.SimulatedType) && !provider.Models.Contains(model, StringComparer.Ordinal))
        {
            return false;
        }

        target = Target(name[..slash], provider, model);
        return true;
    }

    private ProviderTarget Target(string name, ProviderOptions provider, string model) =>
        new(name, model, provider.Type, _clients.GetOrAdd((name, model), key => Create(key.Provider, provider, key.Model)), provider.FirstTokenTimeout, provider.IdleTimeout)
        {
            // Read live: a simulated provider's shape (its failure rate above all) can change without a restart.
            SimulateDefaults = provider.Type != ProviderTarget.SimulatedType ? null
                : _live.CurrentValue.Providers.TryGetValue(name, out var current) ? current.Simulate : provider.Simulate,
        };

    private IChatClient Create(string name, ProviderOptions provider, string model)
    {
        var secret = ProviderSecrets.Resolve(provider);
        IChatClient client = provider.Type switch
        {
            ProviderTarget.SimulatedType => new SimulatedChatClient(name, _time),
            "openai" => new OpenAI.Chat.ChatClient(model, new ApiKeyCredential(secret ?? "unused"), new OpenAIClientOptions
            {
                Endpoint = provider.BaseUrl is { Length: > 0 } url ? new Uri(url) : null,
                // Retries belong to Sluice's fallback chain, before the first token; the SDK must not replay.
                RetryPolicy = new System.ClientModel.Primitives.ClientRetryPolicy(maxRetries: 0),
                NetworkTimeout = Timeout.InfiniteTimeSpan,
            }).AsIChatClient(),
            "anthropic" => new AnthropicClient(new Anthropic.Core.ClientOptions
            {
                ApiKey = secret,
                BaseUrl = provider.BaseUrl is { Length: > 0 } b ? b : "https://api.anthropic.com",
                MaxRetries = 0,
                Timeout = Timeout.InfiniteTimeSpan,
            }).AsIChatClient(model, defaultMaxOutputTokens: 4096),
            _ => throw new InvalidOperationException($"Sluice:Providers:{name}:Type '{provider.Type}' is not supported."),
        };
        // ChatClientBuilder applies the last Use first: the timeouts wrap the classification, which wraps the SDK.
        return new ChatClientBuilder(client)
            .UseTimeouts(provider.FirstTokenTimeout, provider.IdleTimeout, _time)
            .UseClassification(name)
            .Build();
    }
}

/// <summary>A provider's secret: <c>ApiKey</c>, else the variable named by <c>ApiKeyEnvironmentVariable</c>.</summary>
internal static class ProviderSecrets
{
    public static string? Resolve(ProviderOptions provider) =>
        !string.IsNullOrEmpty(provider.ApiKey) ? provider.ApiKey
        : provider.ApiKeyEnvironmentVariable is { Length: > 0 } variable ? Environment.GetEnvironmentVariable(variable)
        : null;
}
