using System.Collections.Concurrent;
using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Sluice.Configuration;
using Sluice.Errors;
using Sluice.Fanout;

namespace Sluice.Generations;

/// <summary>
/// This node's generation workers: at most <c>Sluice:Limits:MaxConcurrentGenerations</c> run at once and at most
/// <c>Sluice:Generations:QueueLength</c> wait. Admission is decided before anything is stored, so a full node
/// answers 503 + Retry-After instead of growing a backlog. A generation runs to its end whether or not
/// anyone is connected: it is tied to no request.
/// </summary>
internal sealed partial class GenerationRunner : BackgroundService
{
    private readonly Channel<GenerationJob> _queue = Channel.CreateUnbounded<GenerationJob>(new UnboundedChannelOptions { SingleReader = false });
    private readonly ConcurrentDictionary<string, GenerationJob> _active = new(StringComparer.Ordinal);
    private readonly GenerationExecutor _executor;
    private readonly GenerationFinisher _finisher;
    private readonly StreamHub _hub;
    private readonly IOptionsMonitor<SluiceOptions> _options;
    private readonly TimeProvider _time;
    private readonly ILogger<GenerationRunner> _logger;
    private readonly Protection.RuntimeControls _controls;
    private readonly Protection.TenantQuotas _quotas;
    private readonly List<Task> _workers = [];
    private readonly Protection.AdjustableConcurrencyLimiter _admission;
    private readonly IGenerationLeases _leases;
    private readonly LeaseKeeper _keeper;
    private int _running;

    internal GenerationRunner(GenerationExecutor executor, GenerationFinisher finisher, StreamHub hub, IOptionsMonitor<SluiceOptions> options, TimeProvider time,
        Protection.RuntimeControls controls, Protection.TenantQuotas quotas, ILogger<GenerationRunner> logger, IGenerationLeases leases, LeaseKeeper keeper)
    {
        _leases = leases;
        _keeper = keeper;
        _controls = controls;
        _quotas = quotas;
        _executor = executor;
        _finisher = finisher;
        _hub = hub;
        _options = options;
        _time = time;
        _logger = logger;
        _admission = new Protection.AdjustableConcurrencyLimiter(() => controls.MaxConcurrentGenerations + options.CurrentValue.Generations.QueueLength, time);
    }

    /// <summary>Generations admitted and not finished on this node (queued and running).</summary>
    public int Admitted => _admission.Held;

    public int Running => Volatile.Read(ref _running);

    /// <summary>
    /// Reserves a place for the tenant: refused when the node is full (running plus queued), draining or
    /// stopping, or the tenant holds its quota. The place is the returned lease; disposing it gives it back.
    /// </summary>
    internal (Admission Outcome, IDisposable? Lease) TryAdmit(string tenant)
    {
        if (_hub.IsDraining || _hub.IsStopping)
        {
            return (Admission.NodeFull, null);
        }

        var node = _admission.AttemptAcquire();
        if (!node.IsAcquired)
        {
            node.Dispose();
            return (Admission.NodeFull, null);
        }

        var quota = _quotas.AcquireGeneration(tenant);
        if (!quota.IsAcquired)
        {
            quota.Dispose();
            node.Dispose();
            return (Admission.TenantFull, null);
        }

        return (Admission.Admitted, new Leases(node, quota));
    }

    /// <summary>
    /// Takes the lease of a generation about to be created, before its record exists, so that no reaper can find the
    /// record unowned. Null only if another holder has it (an id collision: never in practice).
    /// </summary>
    internal ValueTask<GenerationLease?> ClaimAsync(Streams.StreamKey stream, CancellationToken cancellationToken) =>
        _leases.TryAcquireAsync(stream, cancellationToken);

    /// <summary>Gives a lease back that no job took (the create failed or found an earlier generation).</summary>
    internal void Unclaim(GenerationLease lease) => _ = ReleaseAsync(lease);

    internal void Enqueue(GenerationJob job)
    {
        _active[job.Id] = job;
        if (job.Lease is { } lease)
        {
            _keeper.Track(lease, () =>
            {
                // Taken over by a peer's reaper, which ended it: stop at once; nothing more of it is stored from here.
                job.Lost = true;
                _ = job.Cancellation.CancelAsync();
            });
        }

        if (!_queue.Writer.TryWrite(job))
        {
            // Only after shutdown: the lease expires (or, on one node, the next start finds it) and it ends with worker_lost.
            _active.TryRemove(job.Id, out _);
            if (job.Lease is { } unused)
            {
                _keeper.Untrack(unused);
            }

            job.Admission?.Dispose();
        }
    }

    internal GenerationJob? Find(string id) => _active.TryGetValue(id, out var job) ? job : null;

    /// <summary>Cancels a generation of this node. False when it is not running or queued here.</summary>
    internal async Task<bool> CancelAsync(string id)
    {
        if (!_active.TryGetValue(id, out var job))
        {
            return false;
        }

        if (job.TryClaimQueued())
        {
            // No worker took it: end it here, the same way a running one ends.
            var record = await _finisher.FinishAsync(job.Record, GenerationEnding.Cancelled, new GenerationFacts(null, 0, 0, null, _time.GetElapsedTime(job.AdmittedTimestamp)), lease: job.Lease);
            Complete(job, record);
            return true;
        }

        await job.Cancellation.CancelAsync();
        return true;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        // Workers 0..limit-1 take jobs; a lowered runtime limit parks the ones above it, a raised one adds more.
        while (!stoppingToken.IsCancellationRequested)
        {
            var changed = _controls.LimitsChanged;
            while (_workers.Count < _controls.MaxConcurrentGenerations)
            {
                _workers.Add(WorkAsync(_workers.Count, stoppingToken));
            }

            try
            {
                await changed.WaitAsync(stoppingToken);
            }
            catch (OperationCanceledException)
            {
            }
        }

        var workers = _workers.ToArray();
        // Stop taking jobs; queued ones end now; running ones get the grace period, then end with worker_lost
        // (retryable), so no client waits for a stream that no process will finish.
        _queue.Writer.TryComplete();
        var all = Task.WhenAll(workers);
        using var graceOver = new CancellationTokenSource();
        var grace = Task.Delay(_options.CurrentValue.Generations.ShutdownGrace, _time, graceOver.Token);
        if (await Task.WhenAny(all, grace) != all)
        {
            foreach (var job in _active.Values)
            {
                job.Lost = true;
                await job.Cancellation.CancelAsync();
            }
        }

        await graceOver.CancelAsync();
        await all;
    }

    private async Task WorkAsync(int index, CancellationToken stoppingToken)
    {
        await Task.Yield();
        while (await _queue.Reader.WaitToReadAsync(CancellationToken.None))
        {
            while (index >= _controls.MaxConcurrentGenerations && !stoppingToken.IsCancellationRequested)
            {
                try
                {
                    await _controls.LimitsChanged.WaitAsync(stoppingToken);
                }
                catch (OperationCanceledException)
                {
                }
            }

            while (_queue.Reader.TryRead(out var job))
            {
                if (stoppingToken.IsCancellationRequested)
                {
                    if (job.TryClaimQueued())
                    {
                        Complete(job, await EndAsync(job, ErrorCodes.WorkerLost, "The node shut down before the generation started."));
                    }

                    continue;
                }

                if (!job.TryStart())
                {
                    continue; // cancelled while queued
                }

                Interlocked.Increment(ref _running);
                GenerationRecord record;
                try
                {
                    record = await _executor.RunAsync(job);
                }
                catch (Exception ex)
                {
                    // A bug must not leave clients waiting: the stream still gets its terminal event.
                    LogRunFailed(ex, job.Id);
                    record = await EndAsync(job, ErrorCodes.Internal, "The generation failed inside Sluice.");
                }
                finally
                {
                    Interlocked.Decrement(ref _running);
                }

                Complete(job, record);
                if (index >= _controls.MaxConcurrentGenerations)
                {
                    break; // the limit was lowered while this worker ran: park before taking another
                }
            }
        }
    }

    private void Complete(GenerationJob job, GenerationRecord record)
    {
        _active.TryRemove(job.Id, out _);
        if (job.Lease is { } lease)
        {
            // After the final record: a lease expiring before it would let a reaper end a finished generation again.
            _keeper.Untrack(lease);
            _ = ReleaseAsync(lease);
        }

        job.Admission?.Dispose();
        job.Cancellation.Dispose();
        job.Finished.TrySetResult(record);
    }

    private async Task ReleaseAsync(GenerationLease lease)
    {
        try
        {
            await _leases.ReleaseAsync(lease, CancellationToken.None);
        }
        catch (Exception ex)
        {
            // Harmless: the lease expires on its own, and a reaper that takes it finds the generation finished.
            LogReleaseFailed(lease.Stream.StreamId, ex.Message);
        }
    }

    /// <summary>Ends a job that no executor will finish: a terminal <c>error</c> on its stream (retryable), and a failed record.</summary>
    private Task<GenerationRecord> EndAsync(GenerationJob job, string code, string message) =>
        _finisher.FinishAsync(job.Record, GenerationEnding.Failed(code, message, retryable: true), lease: job.Lease);

    private sealed class Leases(System.Threading.RateLimiting.RateLimitLease node, System.Threading.RateLimiting.RateLimitLease quota) : IDisposable
    {
        public void Dispose()
        {
            quota.Dispose();
            node.Dispose();
        }
    }

    internal enum Admission
    {
        Admitted,
        NodeFull,
        TenantFull,
    }

    [LoggerMessage(EventId = 8010, Level = LogLevel.Error, Message = "Generation {GenerationId} failed unexpectedly")]
    private partial void LogRunFailed(Exception exception, string generationId);

    [LoggerMessage(EventId = 8011, Level = LogLevel.Debug, Message = "Releasing the lease of {Stream} failed ({Error}); it expires on its own")]
    private partial void LogReleaseFailed(string stream, string error);
}
