using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Sluice.Configuration;
using Sluice.Fanout;

namespace Sluice.Storage;

/// <summary>
/// Removes streams whose last event is older than <c>Sluice:Retention:Age</c>, finished generations older than
/// <c>Sluice:Generations:Retention</c>, and the ops records (trace events, hourly metrics, ops Idempotency-Keys,
/// audit) past their own retention.
/// </summary>
internal sealed partial class RetentionService(
    StreamHub hub, Generations.IGenerationStore generations, Ops.ITraceLog traces, Ops.IOpsMetricsStore opsMetrics, Ops.IOpsIdempotencyStore opsIdempotency, Audit.IAuditLog audit, IOptionsMonitor<SluiceOptions> options, TimeProvider time, ILogger<RetentionService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.CurrentValue.Retention.SweepInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                await SweepAsync(stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    internal async Task SweepAsync(CancellationToken cancellationToken)
    {
        try
        {
            var removed = await hub.RemoveExpiredAsync(time.GetUtcNow() - options.CurrentValue.Retention.Age, cancellationToken);
            if (removed > 0)
            {
                LogRemoved(removed);
            }

            // Finished generation records and their idempotency keys; the events went with their streams.
            await generations.RemoveFinishedAsync(time.GetUtcNow() - options.CurrentValue.Generations.Retention, cancellationToken);
            await traces.RemoveBeforeAsync(time.GetUtcNow() - options.CurrentValue.Retention.TraceEvents, cancellationToken);
            await opsMetrics.RemoveBeforeAsync(time.GetUtcNow() - options.CurrentValue.Retention.OpsMetrics, cancellationToken);
            await opsIdempotency.RemoveBeforeAsync(time.GetUtcNow() - options.CurrentValue.Generations.IdempotencyWindow, cancellationToken);
            await audit.RemoveBeforeAsync(time.GetUtcNow() - options.CurrentValue.Retention.Audit, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogFailed(ex);
        }
    }

    [LoggerMessage(EventId = 2001, Level = LogLevel.Information, Message = "Retention removed {Count} expired streams")]
    private partial void LogRemoved(int count);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Warning, Message = "Retention sweep failed")]
    private partial void LogFailed(Exception exception);
}
