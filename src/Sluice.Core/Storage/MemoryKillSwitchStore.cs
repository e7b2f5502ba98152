using System.Collections.Concurrent;
using Sluice.Resilience;

namespace Sluice.Storage;

/// <summary>The embedded in-memory <see cref="IKillSwitchStore"/> (a restart forgets, as everything in memory).</summary>
internal sealed class MemoryKillSwitchStore : IKillSwitchStore
{
    private readonly ConcurrentDictionary<string, KillSwitch> _switches = new(StringComparer.Ordinal);

    public ValueTask SetAsync(string provider, KillSwitch? kill, CancellationToken cancellationToken)
    {
        if (kill is null)
        {
            _switches.TryRemove(provider, out _);
        }
        else
        {
            _switches[provider] = kill;
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask<IReadOnlyDictionary<string, KillSwitch>> ActiveAsync(DateTimeOffset now, CancellationToken cancellationToken) =>
        ValueTask.FromResult<IReadOnlyDictionary<string, KillSwitch>>(_switches.Where(p => p.Value.ExpiresAt > now).ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal));
}
