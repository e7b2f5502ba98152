using System.Collections.Concurrent;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Sluice.Configuration;
using Sluice.Diagnostics;

namespace Sluice.Generations;

/// <summary>
/// Renews every generation lease this node holds, every <c>Sluice:Cluster:LeaseTtl</c> / 3, in one pass for all of
/// them (not a timer per generation). A renewal the store could not answer is retried a second later, not given
/// up: one transient error must not cost a live generation its lease (langhost#12). A renewal the store refuses
/// means another node took the lease over after it expired (this process was paused, or cut off, past the ttl):
/// the generation is stopped at once; the store's fencing already refuses its appends.
/// Only shared leases (Redis) are kept; the embedded stores' leases cannot expire.
/// </summary>
internal sealed partial class LeaseKeeper(
    IGenerationLeases leases, IOptionsMonitor<SluiceOptions> options, TimeProvider time, ILogger<LeaseKeeper> logger, SluiceMetrics? metrics = null) : BackgroundService
{
    private static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(1);
    private readonly ConcurrentDictionary<GenerationLease, Action> _held = new();

    /// <summary>Keeps <paramref name="lease"/> renewed until <see cref="Untrack"/>; <paramref name="lost"/> runs once if it is taken over.</summary>
    public void Track(GenerationLease lease, Action lost)
    {
        if (leases.Shared)
        {
            _held[lease] = lost;
        }
    }

    public void Untrack(GenerationLease lease) => _held.TryRemove(lease, out _);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!leases.Shared)
        {
            return;
        }

        var delay = Period;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(delay, time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            delay = await RenewAllAsync(stoppingToken) ? Period : RetryDelay;
        }
    }

    private TimeSpan Period => options.CurrentValue.Cluster.LeaseTtl / 3;

    /// <summary>One pass over every held lease; false when some renewal failed and the pass should come again soon.</summary>
    internal async Task<bool> RenewAllAsync(CancellationToken cancellationToken)
    {
        var held = _held.ToArray();
        if (held.Length == 0)
        {
            return true;
        }

        // Issued together: the store pipelines them (one round trip's wait for the lot, not one per lease).
        var renewals = new Task<bool?>[held.Length];
        for (var i = 0; i < held.Length; i++)
        {
            renewals[i] = RenewAsync(held[i].Key, cancellationToken);
        }

        var allRenewed = true;
        for (var i = 0; i < held.Length; i++)
        {
            var renewed = await renewals[i];
            if (renewed is null)
            {
                allRenewed = false;
            }
            else if (renewed == false && _held.TryRemove(held[i].Key, out var lost))
            {
                LogLeaseLost(held[i].Key.Stream.StreamId);
                lost();
            }
        }

        return allRenewed;
    }

    /// <summary>True renewed, false taken over, null not answered (retried).</summary>
    private async Task<bool?> RenewAsync(GenerationLease lease, CancellationToken cancellationToken)
    {
        try
        {
            var renewed = await leases.RenewAsync(lease, cancellationToken);
            if (!renewed)
            {
                metrics?.LeaseRenewFailed();
            }

            return renewed;
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            metrics?.LeaseRenewFailed();
            LogRenewFailed(lease.Stream.StreamId, ex.Message);
            return null;
        }
    }

    [LoggerMessage(EventId = 8020, Level = LogLevel.Warning, Message = "Renewing the lease of {Stream} failed ({Error}); retrying in a second")]
    private partial void LogRenewFailed(string stream, string error);

    [LoggerMessage(EventId = 8021, Level = LogLevel.Error, Message = "The lease of {Stream} was taken over by another node after it expired: the generation stops here")]
    private partial void LogLeaseLost(string stream);
}
