namespace Sluice.Generations;

/// <summary>
/// Generation records and idempotency keys, beside the events in the same store (memory, SQLite; Redis in
/// cluster mode). Idempotency is decided in the store, atomically, so two nodes given the same key create
/// one generation.
/// </summary>
internal interface IGenerationStore
{
    /// <summary>
    /// Inserts <paramref name="record"/>, or, when <paramref name="idempotency"/> names a key that another
    /// generation of the tenant took within its window, inserts nothing and returns that generation.
    /// </summary>
    ValueTask<GenerationCreateResult> CreateAsync(GenerationRecord record, IdempotencyClaim? idempotency, CancellationToken cancellationToken);

    /// <summary>Replaces the record, unless the stored one is finished already: a finished record is final.</summary>
    ValueTask UpdateAsync(GenerationRecord record, CancellationToken cancellationToken);

    /// <summary>The tenant's generation, or null (another tenant's generation is missing too).</summary>
    ValueTask<GenerationRecord?> GetAsync(string tenant, string id, CancellationToken cancellationToken);

    /// <summary>The tenant's generations, newest first, optionally of one status.</summary>
    ValueTask<IReadOnlyList<GenerationRecord>> ListAsync(string tenant, GenerationStatus? status, int limit, CancellationToken cancellationToken);

    /// <summary>Every tenant's queued or running generations: after a restart, their workers are gone.</summary>
    ValueTask<IReadOnlyList<GenerationRecord>> ListUnfinishedAsync(CancellationToken cancellationToken);

    /// <summary>Removes finished generations completed before <paramref name="cutoff"/>, and idempotency keys older than it.</summary>
    ValueTask<int> RemoveFinishedAsync(DateTimeOffset cutoff, CancellationToken cancellationToken);
}

/// <summary>An <c>Idempotency-Key</c> with the hash of the request it came with; keys older than <see cref="NotBefore"/> are free again.</summary>
internal sealed record IdempotencyClaim(string Key, string RequestHash, DateTimeOffset NotBefore);

internal readonly record struct GenerationCreateResult(bool Created, GenerationRecord Record, string? ExistingRequestHash);
