using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Hosting;
using Sluice.Cluster;

namespace Sluice.Http.Cluster;

/// <summary>Names the node once the server listens: its port is part of the default <c>Sluice:NodeId</c>, its first address is its own.</summary>
internal sealed class NodeIdentityResolver(NodeIdentity identity, IServer server, IHostApplicationLifetime lifetime) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        lifetime.ApplicationStarted.Register(() => identity.Resolve(server.Features.Get<IServerAddressesFeature>()?.Addresses ?? []));
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
