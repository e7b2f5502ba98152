using Microsoft.Extensions.AI;

namespace Sluice.Generations;

/// <summary>Resolves a requested model (<c>provider/model</c> or an alias) to its ordered fallback chain.</summary>
internal interface IModelCatalog
{
    bool TryResolve(string model, out ModelRoute route);

    /// <summary>Every model and alias, with its chain, for <c>GET /v1/models</c>.</summary>
    IReadOnlyList<ModelRoute> List();

    /// <summary>The names of the configured (enabled) providers.</summary>
    IReadOnlyList<string> Providers { get; }
}

/// <summary>
/// A model as requested, the providers that may serve it in order, and the client that runs that chain (the
/// failover layer over each link's pipeline, or the one link's pipeline itself). A generation starts out on the
/// first link; a <see cref="ProviderAttemptContent"/> in the stream says when another link takes over.
/// </summary>
internal sealed record ModelRoute(string Name, string OwnedBy, IReadOnlyList<ProviderTarget> Chain, IChatClient Client);

/// <summary>One link of a chain: a provider, its model name, and its pipeline (kill-switch, resilience, timeouts, classification, SDK).</summary>
internal sealed record ProviderTarget(string Provider, string Model, string ProviderType, IChatClient Client)
{
    public const string SimulatedType = "simulated";

    public string Name => Provider + "/" + Model;

    public bool IsSimulated => ProviderType == SimulatedType;
}
