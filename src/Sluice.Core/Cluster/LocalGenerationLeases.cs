using System.Collections.Concurrent;
using Sluice.Streams;

namespace Sluice.Generations;

/// <summary>
/// Leases of the embedded stores: one process is the only node, so a lease is an entry in memory that nothing else
/// can take. After a restart none is held, which is how the previous process' unfinished generations are found.
/// </summary>
internal sealed class LocalGenerationLeases : IGenerationLeases
{
    private readonly ConcurrentDictionary<StreamKey, string> _held = new();

    public bool Shared => false;

    public ValueTask<GenerationLease?> TryAcquireAsync(StreamKey stream, CancellationToken cancellationToken)
    {
        var token = Guid.NewGuid().ToString("N");
        return ValueTask.FromResult(_held.TryAdd(stream, token) ? new GenerationLease(stream, token) : null);
    }

    public ValueTask<bool> RenewAsync(GenerationLease lease, CancellationToken cancellationToken) =>
        ValueTask.FromResult(_held.TryGetValue(lease.Stream, out var token) && token == lease.Token);

    public ValueTask ReleaseAsync(GenerationLease lease, CancellationToken cancellationToken)
    {
        _held.TryRemove(new KeyValuePair<StreamKey, string>(lease.Stream, lease.Token));
        return ValueTask.CompletedTask;
    }

    public ValueTask<IReadOnlyList<StreamKey>> ExpiredAsync(int max, CancellationToken cancellationToken) =>
        ValueTask.FromResult<IReadOnlyList<StreamKey>>([]);
}
