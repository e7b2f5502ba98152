using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Sluice.Cluster;

namespace Sluice.Http.Cluster;

/// <summary><c>GET /v1/admin/nodes</c> (API.md section 9): the cluster's live nodes, each with its own address.</summary>
internal static class NodesApi
{
    public static RouteGroupBuilder MapNodesApi(this RouteGroupBuilder admin)
    {
        admin.MapGet("/nodes", ListAsync).Produces<NodesResponse>();
        return admin;
    }

    internal static async Task<Ok<NodesResponse>> ListAsync(NodeRegistration registration, NodeIdentity identity, HttpContext context)
    {
        var nodes = await registration.LiveAsync(context.RequestAborted);
        // This node answers, so it is live, even before its first announcement reached the store.
        if (!nodes.Any(n => n.Id == identity.Id))
        {
            nodes = [.. nodes, registration.Self];
        }

        return TypedResults.Ok(new NodesResponse(identity.Id, [.. nodes.Select(NodeView.From)]));
    }

    internal sealed record NodesResponse(string Self, IReadOnlyList<NodeView> Nodes);

    internal sealed record NodeView(string Id, string? Address, DateTimeOffset StartedAt, DateTimeOffset LastSeen, bool Draining)
    {
        public static NodeView From(NodeInfo n) => new(n.Id, n.Address, n.StartedAt, n.LastSeen, n.Draining);
    }
}
