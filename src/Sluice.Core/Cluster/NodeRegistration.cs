using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Sluice.Configuration;
using Sluice.Diagnostics;
using Sluice.Fanout;

namespace Sluice.Cluster;

/// <summary>
/// Announces this node every <c>Sluice:Cluster:LeaseTtl</c> / 3 (its name, address, start and whether it drains), and
/// lists the cluster: a node is live while it was seen within the ttl, the same bound its generations' leases have.
/// Its entry goes when it stops; one killed is forgotten after <see cref="ForgetAfter"/>.
/// </summary>
internal sealed partial class NodeRegistration(
    INodeRegistry registry, NodeIdentity identity, StreamHub hub, IOptionsMonitor<SluiceOptions> options, TimeProvider time, ILogger<NodeRegistration> logger,
    SluiceMetrics? metrics = null) : BackgroundService
{
    /// <summary>How long a silent node's entry stays listed as stale before it is removed.</summary>
    internal static readonly TimeSpan ForgetAfter = TimeSpan.FromMinutes(10);

    private volatile int _live = 1;

    /// <summary>Nodes seen live at the last announcement (this one included).</summary>
    public int LiveNodes => _live;

    /// <summary>The cluster's live nodes, read from the registry now.</summary>
    public async Task<IReadOnlyList<NodeInfo>> LiveAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var all = await registry.ListAsync(now - ForgetAfter, cancellationToken);
        var live = all.Where(n => n.LastSeen >= now - options.CurrentValue.Cluster.LeaseTtl).ToArray();
        _live = Math.Max(1, live.Length);
        return live;
    }

    public NodeInfo Self => new(identity.Id, identity.Address, identity.StartedAt, time.GetUtcNow(), hub.IsDraining);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (metrics is not null)
        {
            metrics.ClusterNodes = () => LiveNodes;
        }

        try
        {
            await identity.Resolved.WaitAsync(stoppingToken);
            while (!stoppingToken.IsCancellationRequested)
            {
                try
                {
                    await registry.AnnounceAsync(Self, stoppingToken);
                    await LiveAsync(stoppingToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    LogAnnounceFailed(ex.Message);
                }

                await Task.Delay(options.CurrentValue.Cluster.LeaseTtl / 3, time, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        try
        {
            await registry.RemoveAsync(identity.Id, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogAnnounceFailed(ex.Message); // it is forgotten after ForgetAfter anyway
        }
    }

    [LoggerMessage(EventId = 8040, Level = LogLevel.Warning, Message = "Announcing this node to the cluster failed ({Error}); trying again")]
    private partial void LogAnnounceFailed(string error);
}
