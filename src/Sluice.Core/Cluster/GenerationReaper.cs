using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Sluice.Configuration;
using Sluice.Diagnostics;
using Sluice.Streams;

namespace Sluice.Generations;

/// <summary>
/// Ends the generations whose node is gone (API.md section 9): a generation whose lease expired gets a retryable
/// <c>worker_lost</c> error on its stream and a failed record, within <c>Sluice:Cluster:LeaseTtl</c> + 2 s of its
/// owner's last renewal. Every node reaps; the lease decides which one does: the reaper takes the lease over first
/// (<c>SET NX</c>), so two reapers never end one generation twice, and the old owner's appends are fenced out. A
/// generation is never run again mid-way (LLM output is not reproducible): it ends, and its client retries.
/// On an embedded store (one node) this runs once at start and ends what the previous process left unfinished.
/// </summary>
internal sealed partial class GenerationReaper(
    IGenerationLeases leases, IGenerationStore store, GenerationFinisher finisher, Storage.IStoreFaults faults, IOptionsMonitor<SluiceOptions> options,
    TimeProvider time, ILogger<GenerationReaper> logger, SluiceMetrics? metrics = null) : BackgroundService
{
    /// <summary>How often expired leases are looked for: the "+ 2 s" of the bound is this and the ending's own writes.</summary>
    internal static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    /// <summary>How often every unfinished record is checked too, for one whose lease never made the expiry index.</summary>
    internal static readonly TimeSpan FullPassInterval = TimeSpan.FromMinutes(1);

    private const int Batch = 100;
    private const string WorkerLostMessage = "The node that ran this generation stopped.";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        if (!leases.Shared)
        {
            try
            {
                await ReapUnownedAsync(stoppingToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogPassFailed(ex);
            }

            return;
        }

        long? reachableSince = null;
        long? lastFull = null;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(Interval, time, stoppingToken);
                // After an outage (or this node's start) the owners get one ttl to renew before anything is reaped: a
                // lease can expire while the store is away, and a Redis outage shorter than the ttl must reap nothing.
                var expired = await leases.ExpiredAsync(Batch, stoppingToken);
                reachableSince ??= time.GetTimestamp();
                if (time.GetElapsedTime(reachableSince.Value) < options.CurrentValue.Cluster.LeaseTtl)
                {
                    continue;
                }

                foreach (var stream in expired)
                {
                    await TryReapAsync(stream, stoppingToken);
                }

                if (lastFull is null || time.GetElapsedTime(lastFull.Value) >= FullPassInterval)
                {
                    await ReapUnownedAsync(stoppingToken);
                    lastFull = time.GetTimestamp();
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (faults.IsUnavailable(ex))
            {
                reachableSince = null;
            }
            catch (Exception ex)
            {
                LogPassFailed(ex);
            }
        }
    }

    /// <summary>Every unfinished record whose lease nobody holds (its owner gone before its lease made the expiry index, or a previous process on one node).</summary>
    internal async Task ReapUnownedAsync(CancellationToken cancellationToken)
    {
        foreach (var record in await store.ListUnfinishedAsync(cancellationToken))
        {
            await TryReapAsync(record.StreamKey, cancellationToken);
        }
    }

    private async Task TryReapAsync(StreamKey stream, CancellationToken cancellationToken)
    {
        if (await leases.TryAcquireAsync(stream, cancellationToken) is not { } lease)
        {
            return; // its owner renewed it, or another reaper has it
        }

        try
        {
            var id = stream.StreamId.StartsWith(GenerationRecord.StreamPrefix, StringComparison.Ordinal) ? stream.StreamId[GenerationRecord.StreamPrefix.Length..] : null;
            var record = id is null ? null : await store.GetAsync(stream.Tenant, id, cancellationToken);
            if (record is null || record.Status.IsFinished())
            {
                return; // it ended between the look and the take-over
            }

            await finisher.FinishAsync(record, GenerationEnding.WorkerLost(WorkerLostMessage), lease: lease);
            metrics?.GenerationReaped();
            LogReaped(record.Id, record.Tenant);
        }
        finally
        {
            await leases.ReleaseAsync(lease, CancellationToken.None);
        }
    }

    [LoggerMessage(EventId = 8030, Level = LogLevel.Warning, Message = "Generation {GenerationId} of tenant {Tenant} lost its node: ended with worker_lost")]
    private partial void LogReaped(string generationId, string tenant);

    [LoggerMessage(EventId = 8031, Level = LogLevel.Error, Message = "Looking for generations whose node is gone failed")]
    private partial void LogPassFailed(Exception exception);
}
