using System.Text.Json;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Sluice.Fanout;
using Sluice.Generations;
using Sluice.Protection;
using Sluice.Resilience;
using Sluice.Storage;
using Sluice.Tenancy;

namespace Sluice.Cluster;

/// <summary>
/// Applies the other nodes' operator changes here (API.md section 9): levers, revocations, kill-switches,
/// broadcast-reconnect and cancels. Woken by the bus' announcement, and every <see cref="PollInterval"/> regardless,
/// it applies the log after the last version it applied, in order, once each; a node that missed more than the log
/// keeps takes the levers' state whole and forgets every cached key. At start it takes the cluster's levers and
/// follows from their version (what happened before it started, such as an old broadcast, is not replayed).
/// </summary>
internal sealed partial class ControlSync(
    IControlBus bus, RuntimeControls controls, ApiKeyService keys, ProviderResilience resilience, IKillSwitchStore killSwitches, StreamHub hub,
    GenerationRunner runner, TimeProvider time, ILogger<ControlSync> logger) : BackgroundService
{
    /// <summary>How often the version is read whatever the announcements say: the bound for a node that missed one.</summary>
    internal static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(1);

    private const int Batch = 1000;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private TaskCompletionSource _announced = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _applied = -1;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!bus.Shared)
        {
            return;
        }

        var subscribed = false;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (!subscribed)
                {
                    await bus.SubscribeAsync(() => Volatile.Read(ref _announced).TrySetResult(), stoppingToken);
                    subscribed = true;
                }

                await CatchUpAsync(stoppingToken);
                var announced = Volatile.Read(ref _announced);
                try
                {
                    await announced.Task.WaitAsync(PollInterval, time, stoppingToken);
                }
                catch (TimeoutException)
                {
                    // No announcement this second: read the version all the same (a subscription may be dead).
                }

                Interlocked.CompareExchange(ref _announced, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously), announced);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                LogSyncFailed(ex.Message);
                try
                {
                    await Task.Delay(PollInterval, time, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    /// <summary>Applies every change after the last applied one.</summary>
    internal async Task CatchUpAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (_applied < 0)
            {
                await TakeStateAsync(cancellationToken);
                return;
            }

            while (true)
            {
                var (version, changes, complete) = await bus.ReadAfterAsync(_applied, Batch, cancellationToken);
                if (version <= _applied)
                {
                    return;
                }

                if (!complete)
                {
                    // More was missed than the log keeps: nothing of it can be listed, so take everything afresh.
                    LogMissedTooMany(_applied, version);
                    keys.ForgetAll();
                    await TakeStateAsync(cancellationToken);
                    return;
                }

                foreach (var change in changes)
                {
                    if (change.Origin != bus.Origin)
                    {
                        await ApplyAsync(change, cancellationToken);
                    }

                    Interlocked.Exchange(ref _applied, change.Version);
                }
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task TakeStateAsync(CancellationToken cancellationToken)
    {
        var (version, state) = await bus.StateAsync(cancellationToken);
        foreach (var (kind, data) in state)
        {
            await ApplyAsync(new ControlChange(version, kind, data, ""), cancellationToken);
        }

        foreach (var (provider, kill) in await killSwitches.ActiveAsync(time.GetUtcNow(), cancellationToken))
        {
            resilience.Apply(provider, kill);
        }

        Interlocked.Exchange(ref _applied, version);
    }

    private async Task ApplyAsync(ControlChange change, CancellationToken cancellationToken)
    {
        try
        {
            switch (change.Kind)
            {
                case ControlKinds.Emergency:
                    controls.SetEmergency(change.Data.Length == 0 ? null : JsonSerializer.Deserialize(change.Data, StoreJson.Default.EmergencyRateLimit));
                    break;
                case ControlKinds.Shed:
                    controls.ReplaceShed(JsonSerializer.Deserialize(change.Data, StoreJson.Default.StringArray) ?? []);
                    break;
                case ControlKinds.Limits:
                    if (JsonSerializer.Deserialize(change.Data, StoreJson.Default.LimitOverrides) is { } limits)
                    {
                        controls.ReplaceLimits(limits);
                    }

                    break;
                case ControlKinds.Revoke:
                    keys.ApplyRevoked(change.Data);
                    break;
                case ControlKinds.KillSwitch:
                    var active = await killSwitches.ActiveAsync(time.GetUtcNow(), cancellationToken);
                    resilience.Apply(change.Data, active.GetValueOrDefault(change.Data));
                    break;
                case ControlKinds.Broadcast:
                    if (long.TryParse(change.Data, out var ms) && ms is >= 0 and <= 3_600_000)
                    {
                        hub.ReconnectAll(TimeSpan.FromMilliseconds(ms), jitter: true);
                    }

                    break;
                case ControlKinds.Cancel:
                    var slash = change.Data.IndexOf('/', StringComparison.Ordinal);
                    if (slash > 0 && runner.Find(change.Data[(slash + 1)..]) is { } job && job.Record.Tenant == change.Data[..slash])
                    {
                        await runner.CancelAsync(job.Id);
                    }

                    break;
            }

            LogApplied(change.Kind, change.Version);
        }
        catch (JsonException ex)
        {
            // A change this version cannot read (a newer node's): skipped, not retried forever.
            LogUnreadable(change.Kind, change.Version, ex.Message);
        }
    }

    [LoggerMessage(EventId = 8050, Level = LogLevel.Debug, Message = "Applied the cluster's change {Version} ({Kind})")]
    private partial void LogApplied(string kind, long version);

    [LoggerMessage(EventId = 8051, Level = LogLevel.Warning, Message = "Reading the cluster's changes failed ({Error}); trying again")]
    private partial void LogSyncFailed(string error);

    [LoggerMessage(EventId = 8052, Level = LogLevel.Warning, Message = "This node missed the cluster's changes {From} to {To}, more than the log keeps: it takes the levers' state whole and reads every key again")]
    private partial void LogMissedTooMany(long from, long to);

    [LoggerMessage(EventId = 8053, Level = LogLevel.Error, Message = "The cluster's change {Version} ({Kind}) could not be read: {Error}")]
    private partial void LogUnreadable(string kind, long version, string error);
}
