using Microsoft.Extensions.Diagnostics.HealthChecks;
using Sluice.Fanout;
using Sluice.Streams;

namespace Sluice.Http.Diagnostics;

/// <summary>Readiness: the store answers and the node is not shutting down.</summary>
internal sealed class StoreHealthCheck(IEventLog log, StreamHub hub) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (hub.IsStopping || hub.IsDraining)
        {
            return HealthCheckResult.Unhealthy(hub.IsStopping ? "The node is shutting down." : "The node is draining.");
        }

        try
        {
            await log.PingAsync(cancellationToken);
            return HealthCheckResult.Healthy();
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return HealthCheckResult.Unhealthy("The store is unreachable.", ex);
        }
    }
}
