namespace Sluice.Protection;

/// <summary>
/// A request rate budget shared by every node (API.md section 9: tenant request rate limits and the emergency rate
/// limit are cluster-wide, one budget for all nodes, not one per node). Only a shared store has one; without it each
/// node keeps its own token buckets, which on one node is the same thing.
/// </summary>
internal interface IRequestRateStore
{
    /// <summary>
    /// Takes one request from <paramref name="bucket"/>'s budget of <paramref name="perMinute"/> a minute with bursts of
    /// <paramref name="burst"/>: null when admitted, else how long until the next request would be.
    /// </summary>
    ValueTask<TimeSpan?> TryTakeAsync(string bucket, int perMinute, int burst, CancellationToken cancellationToken);
}
