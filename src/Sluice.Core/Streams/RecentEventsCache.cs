using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using Sluice.Configuration;
using Sluice.Fanout;

namespace Sluice.Streams;

/// <summary>
/// The recent events of recently used streams, with their encoded frames, so that a crowd of subscribers
/// replaying the same history reads it once from the log and shares the same bytes. Events are immutable
/// and ids are stable, so a cached event is always right; entries are dropped when this node's retention removes a
/// stream (its ids would start again at 1), and when a read of the stream's metadata shows it was created again after
/// they were cached (another node's retention removed it, <see cref="Validate"/>). Bounded: <c>Sluice:Cache:EventsPerStream</c> per stream and
/// <c>Sluice:Cache:MaxStreams</c> streams, least recently used first out.
/// </summary>
internal sealed class RecentEventsCache
{
    private readonly ConcurrentDictionary<StreamKey, Entry> _entries = new();
    private readonly IOptionsMonitor<SluiceOptions> _options;
    private readonly TimeProvider _time;
    private long _bytes;
    private int _evicting;

    public RecentEventsCache(IOptionsMonitor<SluiceOptions> options, TimeProvider time)
    {
        _options = options;
        _time = time;
    }

    public int Count => _entries.Count;

    /// <summary>Estimated bytes held (event strings and frames).</summary>
    public long Bytes => Interlocked.Read(ref _bytes);

    /// <summary>Consecutive cached events after <paramref name="afterId"/>, at most <paramref name="maxCount"/>; possibly none.</summary>
    public List<StoredEvent> Get(StreamKey key, long afterId, int maxCount)
    {
        var result = new List<StoredEvent>();
        if (!_entries.TryGetValue(key, out var entry))
        {
            return result;
        }

        entry.Touch(_time);
        for (var id = afterId + 1; result.Count < maxCount; id++)
        {
            if (entry.TryGet(id) is not { } e)
            {
                break;
            }

            result.Add(e);
        }

        return result;
    }

    /// <summary>Adds events (from an append or a log read).</summary>
    public void Put(StreamKey key, IReadOnlyList<StoredEvent> events)
    {
        var o = _options.CurrentValue.Cache;
        if (events.Count == 0 || o.MaxStreams == 0)
        {
            return;
        }

        var entry = _entries.GetOrAdd(key, static (_, capacity) => new Entry(capacity), o.EventsPerStream);
        entry.Touch(_time);
        long delta;
        lock (entry)
        {
            delta = entry.Put(events, o.MaxBytesPerStream);
        }

        if (Interlocked.Add(ref _bytes, delta) > o.MaxBytes || _entries.Count > o.MaxStreams)
        {
            Evict();
        }
    }

    /// <summary>
    /// Drops the stream's events if they predate <paramref name="createdAt"/>, the creation of the stream the log holds
    /// now: the stream was removed (by any node's retention) and created again since they were cached, and its ids
    /// started again at 1. A stream is never younger than its events, so the check needs nothing but their times.
    /// </summary>
    public void Validate(StreamKey key, DateTimeOffset createdAt)
    {
        if (_entries.TryGetValue(key, out var entry) && entry.EarliestAtMs < createdAt.ToUnixTimeMilliseconds())
        {
            Remove(key);
        }
    }

    public void Remove(StreamKey key)
    {
        if (_entries.TryRemove(key, out var entry))
        {
            Interlocked.Add(ref _bytes, -entry.Bytes);
        }
    }

    /// <summary>Drops least recently used streams until under both bounds with a tenth to spare; one thread at a time.</summary>
    private void Evict()
    {
        if (Interlocked.Exchange(ref _evicting, 1) == 1)
        {
            return;
        }

        try
        {
            var o = _options.CurrentValue.Cache;
            // ConcurrentDictionary.ToArray is an atomic snapshot; LINQ over the live dictionary copies it with
            // ICollection.CopyTo, which throws when streams are added meanwhile (seen under 2,000 generations/s).
            var snapshot = _entries.ToArray();
            var lastUsed = new long[snapshot.Length];
            for (var i = 0; i < snapshot.Length; i++)
            {
                lastUsed[i] = snapshot[i].Value.LastUsed;
            }

            Array.Sort(lastUsed, snapshot);
            foreach (var (key, _) in snapshot)
            {
                if (_entries.Count <= o.MaxStreams - (o.MaxStreams / 10) && Interlocked.Read(ref _bytes) <= o.MaxBytes - (o.MaxBytes / 10))
                {
                    break;
                }

                Remove(key);
            }
        }
        finally
        {
            Volatile.Write(ref _evicting, 0);
        }
    }

    /// <summary>An id-indexed ring bounded by count and bytes; written under its lock, read without.</summary>
    private sealed class Entry(int capacity)
    {
        private readonly StoredEvent?[] _slots = new StoredEvent?[System.Numerics.BitOperations.RoundUpToPowerOf2((uint)capacity)];
        private long _lastUsed;
        private long _low = long.MaxValue;
        private long _high;
        private long _earliestAtMs = long.MaxValue;

        public long Bytes { get; private set; }

        /// <summary>The time of the earliest event ever put here (ms).</summary>
        public long EarliestAtMs => Interlocked.Read(ref _earliestAtMs);

        public long LastUsed => Volatile.Read(ref _lastUsed);

        public void Touch(TimeProvider time) => Volatile.Write(ref _lastUsed, time.GetTimestamp());

        public StoredEvent? TryGet(long id)
        {
            var e = Volatile.Read(ref _slots[(int)(id & (_slots.Length - 1))]);
            return e is not null && e.Id == id ? e : null;
        }

        /// <summary>Returns the change in bytes.</summary>
        public long Put(IReadOnlyList<StoredEvent> events, long maxBytes)
        {
            var before = Bytes;
            foreach (var e in events)
            {
                ref var slot = ref _slots[(int)(e.Id & (_slots.Length - 1))];
                if (slot is { } old)
                {
                    if (old.Id >= e.Id)
                    {
                        continue; // the slot holds this event already, or a newer one
                    }

                    Bytes -= old.ApproximateBytes;
                }

                Volatile.Write(ref slot, e);
                Bytes += e.ApproximateBytes;
                var at = e.Timestamp.ToUnixTimeMilliseconds();
                if (at < _earliestAtMs)
                {
                    Interlocked.Exchange(ref _earliestAtMs, at);
                }

                _low = Math.Min(_low, e.Id);
                _high = Math.Max(_high, e.Id);
            }

            // Over the byte budget: drop the oldest first.
            _low = Math.Max(_low, _high - _slots.Length + 1);
            while (Bytes > maxBytes && _low < _high)
            {
                ref var slot = ref _slots[(int)(_low & (_slots.Length - 1))];
                if (slot is { } old && old.Id == _low)
                {
                    Bytes -= old.ApproximateBytes;
                    Volatile.Write(ref slot, null);
                }

                _low++;
            }

            return Bytes - before;
        }
    }
}
