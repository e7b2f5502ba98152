namespace Sluice.Streams;

/// <summary>
/// The durable, ordered event log behind every stream. Implementations assign ids: dense, strictly
/// increasing from 1 per stream, identical for every reader and across restarts. An append that returns
/// <see cref="AppendStatus.Appended"/> is durable. The log does not notify subscribers: the hub announces
/// appended events on the live feed, and subscribers heal any gap or reordering by reading the log again.
/// </summary>
internal interface IEventLog
{
    /// <summary>
    /// Appends all events or none; fails with <see cref="AppendStatus.StreamClosed"/> after a terminal event. Keeps
    /// no reference to <paramref name="events"/> once it returns: a caller may reuse the list.
    /// </summary>
    ValueTask<AppendResult> AppendAsync(StreamKey key, IReadOnlyList<NewEvent> events, CancellationToken cancellationToken);

    /// <summary>Up to <paramref name="maxCount"/> retained events with id greater than <paramref name="afterId"/>, in order.</summary>
    ValueTask<IReadOnlyList<StoredEvent>> ReadAsync(StreamKey key, long afterId, int maxCount, CancellationToken cancellationToken);

    /// <summary>The stream's metadata, or null when it does not exist (or was removed by retention).</summary>
    ValueTask<StreamInfo?> GetInfoAsync(StreamKey key, CancellationToken cancellationToken);

    /// <summary>Removes streams whose last event is older than <paramref name="cutoff"/>; returns which.</summary>
    ValueTask<IReadOnlyList<StreamKey>> RemoveExpiredAsync(DateTimeOffset cutoff, CancellationToken cancellationToken);

    /// <summary>Throws when the store cannot be reached (readiness).</summary>
    ValueTask PingAsync(CancellationToken cancellationToken);
}
