using System.ClientModel;
using System.Collections.Concurrent;
using Anthropic;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;
using OpenAI;
using Sluice.Configuration;
using Sluice.Generations;
using Sluice.Providers.Simulated;
using Sluice.Resilience;

namespace Sluice.Providers;

/// <summary>
/// Providers and aliases from <c>Sluice:Providers</c> and <c>Sluice:Models</c>. <c>simulated</c> (with the model
/// <c>simulated/default</c>) exists unless configuration disables it. Each provider and model gets its pipeline
/// once (see <see cref="Create"/>), and each route a failover client over its chain's pipelines.
/// </summary>
internal sealed class ModelCatalog : IModelCatalog
{
    public const string SimulatedProvider = "simulated";

    // Routes to models a provider does not list (one with no Models accepts any name) are keyed by what a caller
    // typed: past this many they are built for the request and not kept.
    private const int MaxUnlistedRoutes = 256;

    private readonly Dictionary<string, ProviderOptions> _providers;
    private readonly Dictionary<string, ModelRoute> _routes = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ModelRoute> _unlisted = new(StringComparer.Ordinal);
    private readonly IReadOnlyList<ModelRoute> _listed;
    private readonly IOptionsMonitor<SluiceOptions> _live;
    private readonly ProviderResilience _resilience;
    private readonly TimeProvider _time;
    private readonly TelemetryOptions _telemetry;

    public ModelCatalog(IOptionsMonitor<SluiceOptions> options, ProviderResilience resilience, TimeProvider time)
    {
        _live = options;
        _resilience = resilience;
        _time = time;
        _telemetry = options.CurrentValue.Telemetry;
        // Providers and aliases as they were at start; only a simulated provider's shape is read live.
        _providers = Effective(options.CurrentValue.Providers);
        foreach (var (name, provider) in _providers.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            foreach (var model in provider.Models)
            {
                var target = Target(name, provider, model);
                _routes[target.Name] = Route(target.Name, name, [target]);
            }
        }

        var listed = _routes.Values.ToList();
        foreach (var (alias, chain) in options.CurrentValue.Models.OrderBy(m => m.Key, StringComparer.Ordinal))
        {
            var targets = new List<ProviderTarget>(chain.Chain.Length);
            foreach (var link in chain.Chain)
            {
                if (TryTarget(link, out var target))
                {
                    targets.Add(target);
                }
            }

            if (targets.Count > 0)
            {
                var route = Route(alias, "sluice", targets);
                _routes[alias] = route;
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
        if (_routes.TryGetValue(model, out route!) || _unlisted.TryGetValue(model, out route!))
        {
            return true;
        }

        if (!TryTarget(model, out var target))
        {
            return false;
        }

        route = Route(model, target.Provider, [target]);
        if (_unlisted.Count < MaxUnlistedRoutes)
        {
            route = _unlisted.GetOrAdd(model, route);
        }

        return true;
    }

    // A chain of one needs no failover (the generation starts out on its first link): one iterator less per generation.
    private static ModelRoute Route(string name, string ownedBy, IReadOnlyList<ProviderTarget> chain) =>
        new(name, ownedBy, chain, chain.Count == 1 ? chain[0].Client : new FallbackChainChatClient(chain));

    private bool TryTarget(string name, out ProviderTarget target)
    {
        target = null!;
        var slash = name.IndexOf('/', StringComparison.Ordinal);
        if (slash <= 0 || slash == name.Length - 1 || !_providers.TryGetValue(name[..slash], out var provider))
        {
            return false;
        }

        if (_routes.TryGetValue(name, out var listed) && listed.Chain is [var known])
        {
            target = known;
            return true;
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
        new(name, model, provider.Type, Create(name, provider, model));

    /// <summary>
    /// A target's pipeline, outermost first: the kill-switch (nothing below runs while it is on), resilience (retry,
    /// circuit breaker, total timeout, health), the first-token and idle timeouts, classification, then the SDK.
    /// </summary>
    private IChatClient Create(string name, ProviderOptions provider, string model)
    {
        var secret = ProviderSecrets.Resolve(provider);
        IChatClient client = provider.Type switch
        {
            ProviderTarget.SimulatedType => new SimulatedChatClient(name, model, () => SimulateDefaults(name, provider), _time),
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
        var pipeline = new ChatClientBuilder(client)
            .UseKillSwitch(name, _resilience)
            .UseResilience(name, _resilience, _time)
            .UseTimeouts(provider.FirstTokenTimeout, provider.IdleTimeout, _time)
            .UseClassification(name);
        if (_telemetry.Tracing)
        {
            // Innermost, right above the SDK: one span per attempt (a retry or a fallback is a span of its own), with the
            // SDK's own failure as its error. Only when tracing is on: the layer keeps every update of a stream for its
            // span's attributes, a cost no one should pay for spans no one exports.
            pipeline.UseOpenTelemetry(configure: o => o.EnableSensitiveData = _telemetry.RecordContent);
        }

        return pipeline.Build();
    }

    // Read live: a simulated provider's shape (its failure rate above all) can change without a restart.
    private SimulateOptions? SimulateDefaults(string name, ProviderOptions atStart) =>
        _live.CurrentValue.Providers.TryGetValue(name, out var current) ? current.Simulate : atStart.Simulate;
}

/// <summary>A provider's secret: <c>ApiKey</c>, else the variable named by <c>ApiKeyEnvironmentVariable</c>.</summary>
internal static class ProviderSecrets
{
    public static string? Resolve(ProviderOptions provider) =>
        !string.IsNullOrEmpty(provider.ApiKey) ? provider.ApiKey
        : provider.ApiKeyEnvironmentVariable is { Length: > 0 } variable ? Environment.GetEnvironmentVariable(variable)
        : null;
}
