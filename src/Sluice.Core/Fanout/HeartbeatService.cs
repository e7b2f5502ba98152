using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Sluice.Configuration;

namespace Sluice.Fanout;

/// <summary>One timer for the whole node: each tick encodes one heartbeat and offers it to every open response.</summary>
internal sealed class HeartbeatService(StreamHub hub, IOptionsMonitor<SluiceOptions> options, TimeProvider time) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.CurrentValue.Heartbeat, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                hub.BroadcastHeartbeat();
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
