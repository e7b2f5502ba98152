using System.Text.Json;
using Sluice.Cluster;
using StackExchange.Redis;

namespace Sluice.Storage.Redis;

/// <summary>The cluster's nodes: one hash, a field per node holding its JSON entry.</summary>
internal sealed class RedisNodeRegistry(RedisConnection redis) : INodeRegistry
{
    /// <summary>Entries read at most: a registry is a handful of nodes; this bounds a polluted one.</summary>
    private const int MaxNodes = 1000;

    private readonly RedisKey _nodes = redis.Keys.Named("{nodes}");

    public async ValueTask AnnounceAsync(NodeInfo node, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var db = await redis.DatabaseAsync();
        await db.HashSetAsync(_nodes, node.Id, JsonSerializer.Serialize(node, StoreJson.Default.NodeInfo));
    }

    public async ValueTask<IReadOnlyList<NodeInfo>> ListAsync(DateTimeOffset forgetBefore, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var db = await redis.DatabaseAsync();
        var nodes = new List<NodeInfo>();
        await foreach (var entry in db.HashScanAsync(_nodes, pageSize: 100).Take(MaxNodes).WithCancellation(cancellationToken))
        {
            var node = JsonSerializer.Deserialize((string)entry.Value!, StoreJson.Default.NodeInfo);
            if (node is null || node.LastSeen < forgetBefore)
            {
                await db.HashDeleteAsync(_nodes, entry.Name);
                continue;
            }

            nodes.Add(node);
        }

        nodes.Sort(static (a, b) => string.CompareOrdinal(a.Id, b.Id));
        return nodes;
    }

    public async ValueTask RemoveAsync(string id, CancellationToken cancellationToken)
    {
        var db = await redis.DatabaseAsync();
        await db.HashDeleteAsync(_nodes, id);
    }
}
