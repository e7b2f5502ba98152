using Sluice.Streams;

namespace Sluice.Generations;

/// <summary>
/// A node's hold on one generation (API.md section 9): only the holder may append to the generation's stream, and
/// the store checks <see cref="Token"/> on every append, so a holder that lost the lease (paused past its ttl, then
/// taken over) can append nothing, whatever its own clock believes.
/// </summary>
internal sealed record GenerationLease(StreamKey Stream, string Token);

/// <summary>
/// Generation ownership. The embedded stores keep leases in the process (one node, nothing to share or take over);
/// Redis keeps them as keys with a ttl (<c>SET NX PX</c>), renewed by their holder and taken over by any node's
/// reaper once they expire.
/// </summary>
internal interface IGenerationLeases
{
    /// <summary>True when other processes share these leases: they expire, are renewed, and can be taken over.</summary>
    bool Shared { get; }

    /// <summary>The lease of the generation streaming to <paramref name="stream"/>, or null while another holder has it.</summary>
    ValueTask<GenerationLease?> TryAcquireAsync(StreamKey stream, CancellationToken cancellationToken);

    /// <summary>
    /// Extends the lease by its ttl. False when it is no longer the holder's (it expired and was taken over); throws
    /// when the store cannot be reached, which the caller retries.
    /// </summary>
    ValueTask<bool> RenewAsync(GenerationLease lease, CancellationToken cancellationToken);

    /// <summary>Gives the lease up (its generation ended); a lease already lost is left alone.</summary>
    ValueTask ReleaseAsync(GenerationLease lease, CancellationToken cancellationToken);

    /// <summary>Up to <paramref name="max"/> streams whose lease may have expired, for the reaper to try to take over.</summary>
    ValueTask<IReadOnlyList<StreamKey>> ExpiredAsync(int max, CancellationToken cancellationToken);
}
