using System.Collections.Concurrent;

namespace Sluice.Cluster;

/// <summary>The embedded stores' registry: the node alone.</summary>
internal sealed class MemoryNodeRegistry : INodeRegistry
{
    private readonly ConcurrentDictionary<string, NodeInfo> _nodes = new(StringComparer.Ordinal);

    public ValueTask AnnounceAsync(NodeInfo node, CancellationToken cancellationToken)
    {
        _nodes[node.Id] = node;
        return ValueTask.CompletedTask;
    }

    public ValueTask<IReadOnlyList<NodeInfo>> ListAsync(DateTimeOffset forgetBefore, CancellationToken cancellationToken)
    {
        foreach (var node in _nodes.Values.Where(n => n.LastSeen < forgetBefore))
        {
            _nodes.TryRemove(node.Id, out _);
        }

        return ValueTask.FromResult<IReadOnlyList<NodeInfo>>([.. _nodes.Values.OrderBy(n => n.Id, StringComparer.Ordinal)]);
    }

    public ValueTask RemoveAsync(string id, CancellationToken cancellationToken)
    {
        _nodes.TryRemove(id, out _);
        return ValueTask.CompletedTask;
    }
}
