using Microsoft.Extensions.Hosting;

namespace Sluice.Resilience;

/// <summary>At start, puts back the kill-switches that were set before the restart and have not expired.</summary>
internal sealed class KillSwitchRestorer(ProviderResilience resilience, IKillSwitchStore store, TimeProvider time) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var (provider, kill) in await store.ActiveAsync(time.GetUtcNow(), cancellationToken))
        {
            resilience.Restore(provider, kill);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
