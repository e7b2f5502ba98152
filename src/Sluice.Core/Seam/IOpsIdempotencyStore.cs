namespace Sluice.Ops;

/// <summary>
/// The <c>Idempotency-Key</c>s of mutating ops calls (API.md section 6), in the store, so a key replays on every
/// node and across restarts. A claim is decided atomically in the store: of two calls with one key, one runs and
/// the other is told it is in progress.
/// </summary>
internal interface IOpsIdempotencyStore
{
    /// <summary>
    /// Claims <paramref name="scope"/> for a request with <paramref name="requestHash"/>. A record claimed before
    /// <paramref name="expiredBefore"/> is free again; an unfinished one claimed before <paramref name="staleBefore"/>
    /// (its node died) may be claimed again by the same request.
    /// </summary>
    ValueTask<OpsIdempotencyClaim> ClaimAsync(string scope, string requestHash, DateTimeOffset now, DateTimeOffset expiredBefore, DateTimeOffset staleBefore, CancellationToken cancellationToken);

    /// <summary>Stores the response of a claimed call, to be replayed.</summary>
    ValueTask CompleteAsync(string scope, OpsStoredResponse response, CancellationToken cancellationToken);

    /// <summary>Gives a claim up (the call failed with nothing to replay): the key may run again.</summary>
    ValueTask ReleaseAsync(string scope, CancellationToken cancellationToken);

    /// <summary>Removes records claimed before <paramref name="cutoff"/>.</summary>
    ValueTask<int> RemoveBeforeAsync(DateTimeOffset cutoff, CancellationToken cancellationToken);
}

internal enum OpsIdempotencyOutcome
{
    /// <summary>The caller owns the key: run the call, then complete or release.</summary>
    Claimed,

    /// <summary>The same request is running elsewhere.</summary>
    InProgress,

    /// <summary>The same request already ran: replay <see cref="OpsIdempotencyClaim.Response"/>.</summary>
    Completed,

    /// <summary>The key was used with another request.</summary>
    Conflict,
}

internal sealed record OpsIdempotencyClaim(OpsIdempotencyOutcome Outcome, OpsStoredResponse? Response = null);

/// <summary>A first response as it was sent, replayed byte for byte.</summary>
internal sealed record OpsStoredResponse(int Status, string? ContentType, byte[] Body);
