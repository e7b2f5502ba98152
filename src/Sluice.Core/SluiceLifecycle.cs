using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Sluice.Diagnostics;
using Sluice.Fanout;

namespace Sluice;

/// <summary>
/// What the node does at its start and at its stop, in one place instead of in constructors and <c>Map*</c>
/// calls: the metrics' observable gauges learn their sources as the host starts, and as it begins to stop
/// every SSE client is sent <c>retry:</c> (before Kestrel waits for their responses to end).
/// </summary>
internal sealed class SluiceLifecycle(StreamHub hub, IServiceProvider services) : IHostedLifecycleService
{
    public Task StartingAsync(CancellationToken cancellationToken)
    {
        if (services.GetService<SluiceMetrics>() is { } metrics)
        {
            metrics.LastEventAgeSeconds = () => hub.LastEventAge.TotalSeconds;
            // Resolved here, not injected: the catalog belongs to the providers' registration, made after Core's.
            if (services.GetService<Generations.IModelCatalog>() is { } catalog)
            {
                var resilience = services.GetRequiredService<Resilience.ProviderResilience>();
                metrics.ProviderStates = () => catalog.Providers.Select(resilience.StateOf);
            }
        }

        return Task.CompletedTask;
    }

    public Task StoppingAsync(CancellationToken cancellationToken)
    {
        hub.Stop();
        return Task.CompletedTask;
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
