namespace Sluice.Streams;

/// <summary>
/// The durable, ordered event log behind every stream: storage, not policy. The log assigns ids (dense,
/// strictly increasing from 1 per stream, identical for every reader and across restarts, never handed out
/// twice) and refuses appends to a closed stream; what closes a stream, how many events it keeps and the
/// time stamped on them are the hub's decisions, passed in <see cref="AppendBatch"/>. An append that returns
/// <see cref="AppendStatus.Appended"/> is durable. The log does not notify subscribers: the hub announces
/// appended events on the <see cref="Fanout.ILiveFeed"/>, and subscribers heal any gap by reading the log again.
/// </summary>
internal interface IEventLog
{
    /// <summary>
    /// Appends all of the batch's events or none; fails with <see cref="AppendStatus.StreamClosed"/> once a batch
    /// with <see cref="AppendBatch.Closes"/> was stored. Keeps no reference to the batch's list once it returns.
    /// </summary>
    ValueTask<AppendResult> AppendAsync(StreamKey key, AppendBatch batch, CancellationToken cancellationToken);

    /// <summary>Up to <paramref name="maxCount"/> retained events with id greater than <paramref name="afterId"/>, in order.</summary>
    ValueTask<IReadOnlyList<StoredEvent>> ReadAsync(StreamKey key, long afterId, int maxCount, CancellationToken cancellationToken);

    /// <summary>The stream's metadata, or null when it does not exist (or was removed by retention).</summary>
    ValueTask<StreamInfo?> GetInfoAsync(StreamKey key, CancellationToken cancellationToken);

    /// <summary>Removes streams whose last event is older than <paramref name="cutoff"/>; returns which.</summary>
    ValueTask<IReadOnlyList<StreamKey>> RemoveExpiredAsync(DateTimeOffset cutoff, CancellationToken cancellationToken);

    /// <summary>Throws when the store cannot be reached (readiness).</summary>
    ValueTask PingAsync(CancellationToken cancellationToken);
}
