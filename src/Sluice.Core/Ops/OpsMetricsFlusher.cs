using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Sluice.Ops;

/// <summary>Writes this node's hourly rows to the store every minute and at shutdown; the summary endpoint flushes first too.</summary>
internal sealed partial class OpsMetricsFlusher(OpsMetricsAggregator aggregator, IOpsMetricsStore store, TimeProvider time, ILogger<OpsMetricsFlusher> logger) : BackgroundService
{
    private readonly SemaphoreSlim _gate = new(1, 1);

    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            await store.UpsertAsync(aggregator.SnapshotAndTrim(), cancellationToken);
        }
        finally
        {
            _gate.Release();
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMinutes(1), time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                await TryFlushAsync(stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }

        await TryFlushAsync(CancellationToken.None);
    }

    private async Task TryFlushAsync(CancellationToken cancellationToken)
    {
        try
        {
            await FlushAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogFlushFailed(ex);
        }
    }

    public override void Dispose()
    {
        _gate.Dispose();
        base.Dispose();
    }

    [LoggerMessage(EventId = 9002, Level = LogLevel.Warning, Message = "Writing the hourly ops metrics failed; the next flush retries")]
    private partial void LogFlushFailed(Exception exception);
}
