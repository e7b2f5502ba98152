using Microsoft.Extensions.AI;
using Sluice.Configuration;

namespace Sluice.Generations;

/// <summary>Resolves a requested model (<c>provider/model</c> or an alias) to its ordered fallback chain.</summary>
public interface IModelCatalog
{
    bool TryResolve(string model, out ModelRoute route);

    /// <summary>Every model and alias, with its chain, for <c>GET /v1/models</c>.</summary>
    IReadOnlyList<ModelRoute> List();

    /// <summary>The names of the configured (enabled) providers.</summary>
    IReadOnlyList<string> Providers { get; }
}

/// <summary>A model as requested and the providers that may serve it, in order.</summary>
public sealed record ModelRoute(string Name, string OwnedBy, IReadOnlyList<ProviderTarget> Chain);

/// <summary>One link of a chain: a provider, its model name, and the client that calls it.</summary>
public sealed record ProviderTarget(string Provider, string Model, string ProviderType, IChatClient Client, TimeSpan FirstTokenTimeout, TimeSpan IdleTimeout)
{
    public const string SimulatedType = "simulated";

    public string Name => Provider + "/" + Model;

    public bool IsSimulated => ProviderType == SimulatedType;

    /// <summary>The simulated provider's defaults, when it is one.</summary>
    public SimulateOptions? SimulateDefaults { get; init; }
}
