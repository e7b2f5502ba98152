using Microsoft.Extensions.Hosting;

namespace Sluice.Resilience;

/// <summary>
/// At start, puts back the kill-switches that were set before the restart and have not expired; from then on,
/// records a <c>kill_switch_expired</c> trace event when one runs out, so on-call sees when traffic came back.
/// </summary>
internal sealed class KillSwitchRestorer(ProviderResilience resilience, IKillSwitchStore store, Ops.TraceRecorder traces, TimeProvider time) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        resilience.KillSwitchExpired += OnExpired;
        foreach (var (provider, kill) in await store.ActiveAsync(time.GetUtcNow(), cancellationToken))
        {
            resilience.Restore(provider, kill);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        resilience.KillSwitchExpired -= OnExpired;
        return Task.CompletedTask;
    }

    private void OnExpired(string provider, KillSwitch kill) =>
        _ = traces.RecordAsync("kill_switch_expired", null, null, null,
            $"{provider}: the kill-switch set by {kill.ActorKeyId} at {kill.Since:O} expired" + (kill.Reason is { } reason ? ": " + reason : "")).AsTask();
}
