using System.Collections.Concurrent;
using Sluice.Streams;

namespace Sluice.Storage;

/// <summary>The in-process event log, for tests, benchmarks and <c>Sluice:Store=memory</c>. Nothing survives a restart.</summary>
internal sealed class MemoryEventLog : IEventLog
{
    private readonly ConcurrentDictionary<StreamKey, MemoryStream> _streams = new();
    public ValueTask<AppendResult> AppendAsync(StreamKey key, AppendBatch batch, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var events = batch.Events;
        var now = batch.At;
        while (true)
        {
            var stream = _streams.GetOrAdd(key, static (_, t) => new MemoryStream(t), now);
            lock (stream)
            {
                if (stream.Removed)
                {
                    continue;
                }

                if (stream.ClosedAt is not null)
                {
                    return ValueTask.FromResult(AppendResult.StreamClosed);
                }

                var stored = new StoredEvent[events.Count];
                for (var i = 0; i < events.Count; i++)
                {
                    var e = events[i];
                    stored[i] = new StoredEvent(stream.NextId(), e.Type, e.Data, now);
                    stream.Events.Add(stored[i]);
                }

                if (batch.Closes)
                {
                    stream.ClosedAt = now;
                }

                stream.LastEventAt = now;
                var excess = stream.Events.Count - batch.KeepLast;
                if (excess > 0)
                {
                    stream.Events.RemoveRange(0, (int)excess);
                }

                return ValueTask.FromResult(AppendResult.Appended(stored));
            }
        }
    }

    public ValueTask<IReadOnlyList<StoredEvent>> ReadAsync(StreamKey key, long afterId, int maxCount, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (!_streams.TryGetValue(key, out var stream))
        {
            return ValueTask.FromResult<IReadOnlyList<StoredEvent>>([]);
        }

        lock (stream)
        {
            var events = stream.Events;
            if (events.Count == 0)
            {
                return ValueTask.FromResult<IReadOnlyList<StoredEvent>>([]);
            }

            // Ids are dense, so the index of an id is its distance from the first retained one.
            var first = events[0].Id;
            var start = (int)Math.Max(0, Math.Min(events.Count, afterId - first + 1));
            var count = Math.Min(maxCount, events.Count - start);
            return ValueTask.FromResult<IReadOnlyList<StoredEvent>>(count <= 0 ? [] : events.GetRange(start, count));
        }
    }

    public ValueTask<StreamInfo?> GetInfoAsync(StreamKey key, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (!_streams.TryGetValue(key, out var stream))
        {
            return ValueTask.FromResult<StreamInfo?>(null);
        }

        lock (stream)
        {
            if (stream.Removed)
            {
                return ValueTask.FromResult<StreamInfo?>(null);
            }

            var first = stream.Events.Count > 0 ? stream.Events[0].Id : stream.LastId + 1;
            return ValueTask.FromResult<StreamInfo?>(new StreamInfo(
                key.StreamId, stream.ClosedAt is not null, first, stream.LastId, stream.CreatedAt, stream.ClosedAt, stream.LastEventAt));
        }
    }

    public ValueTask<IReadOnlyList<StreamKey>> RemoveExpiredAsync(DateTimeOffset cutoff, CancellationToken cancellationToken)
    {
        var removed = new List<StreamKey>();
        foreach (var (key, stream) in _streams)
        {
            cancellationToken.ThrowIfCancellationRequested();
            lock (stream)
            {
                if (stream.LastEventAt >= cutoff)
                {
                    continue;
                }

                stream.Removed = true;
                _streams.TryRemove(new KeyValuePair<StreamKey, MemoryStream>(key, stream));
                removed.Add(key);
            }
        }

        return ValueTask.FromResult<IReadOnlyList<StreamKey>>(removed);
    }

    public ValueTask PingAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

    private sealed class MemoryStream(DateTimeOffset createdAt)
    {
        public readonly List<StoredEvent> Events = [];
        public long LastId;
        public DateTimeOffset CreatedAt = createdAt;
        public DateTimeOffset LastEventAt = createdAt;
        public DateTimeOffset? ClosedAt;
        public bool Removed;

        public long NextId() => ++LastId;
    }
}
