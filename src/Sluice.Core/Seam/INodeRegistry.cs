namespace Sluice.Cluster;

/// <summary>A node as the cluster knows it (<c>GET /v1/admin/nodes</c>).</summary>
internal sealed record NodeInfo(string Id, string? Address, DateTimeOffset StartedAt, DateTimeOffset LastSeen, bool Draining);

/// <summary>
/// Where the nodes announce themselves: in the process for the embedded stores (the node alone), a hash on Redis
/// for a cluster. Each node writes its own entry only; an entry not refreshed is a node gone.
/// </summary>
internal interface INodeRegistry
{
    /// <summary>Writes (or refreshes) the node's entry.</summary>
    ValueTask AnnounceAsync(NodeInfo node, CancellationToken cancellationToken);

    /// <summary>Every entry, live or not; entries not seen since <paramref name="forgetBefore"/> are removed.</summary>
    ValueTask<IReadOnlyList<NodeInfo>> ListAsync(DateTimeOffset forgetBefore, CancellationToken cancellationToken);

    /// <summary>Removes the node's entry (it stops).</summary>
    ValueTask RemoveAsync(string id, CancellationToken cancellationToken);
}
