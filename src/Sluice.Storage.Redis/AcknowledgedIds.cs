using System.Collections.Concurrent;
using Sluice.Streams;

namespace Sluice.Storage.Redis;

/// <summary>
/// What this node knows Redis acknowledged: per stream it appended to, the last id and when the stream's keys
/// expire. The append script is handed the last id, so a Redis that came back with less (an older dataset, the AOF
/// lost) cannot hand those ids out again. Bounded: two generations of at most half the capacity each; the oldest
/// generation is let go as a whole (a stream not appended to for that long is unlikely to be affected).
/// </summary>
internal sealed class AcknowledgedIds(int capacity)
{
    private readonly object _rotate = new();
    private volatile ConcurrentDictionary<StreamKey, Entry> _current = new();
    private volatile ConcurrentDictionary<StreamKey, Entry> _previous = new();

    // Keys added to _current. Counted here because ConcurrentDictionary.Count takes every bucket lock, and this
    // runs on every append.
    private int _added;

    public readonly record struct Entry(long LastId, long ExpiresAtMs);

    public void Remember(StreamKey key, long lastId, long expiresAtMs)
    {
        var entry = new Entry(lastId, expiresAtMs);
        var map = _current;
        while (true)
        {
            if (map.TryGetValue(key, out var old))
            {
                var merged = new Entry(Math.Max(old.LastId, lastId), Math.Max(old.ExpiresAtMs, expiresAtMs));
                if (merged == old || map.TryUpdate(key, merged, old))
                {
                    return;
                }
            }
            else if (map.TryAdd(key, entry))
            {
                if (Interlocked.Increment(ref _added) >= capacity / 2)
                {
                    Rotate(map);
                }

                return;
            }
        }
    }

    private void Rotate(ConcurrentDictionary<StreamKey, Entry> full)
    {
        lock (_rotate)
        {
            if (_current == full)
            {
                _previous = full;
                _current = new ConcurrentDictionary<StreamKey, Entry>();
                Volatile.Write(ref _added, 0);
            }
        }
    }

    /// <summary>The last id acknowledged on <paramref name="key"/>, or 0 when unknown or its keys have expired since.</summary>
    public long LastId(StreamKey key, long nowMs)
    {
        if (!_current.TryGetValue(key, out var entry) && !_previous.TryGetValue(key, out entry))
        {
            return 0;
        }

        return entry.ExpiresAtMs > nowMs ? entry.LastId : 0;
    }

    public void Forget(StreamKey key)
    {
        _current.TryRemove(key, out _);
        _previous.TryRemove(key, out _);
    }

    /// <summary>Every stream still remembered and not expired (a stream in both generations: the newer entry).</summary>
    public IEnumerable<KeyValuePair<StreamKey, Entry>> Live(long nowMs)
    {
        var current = _current;
        foreach (var pair in current)
        {
            if (pair.Value.ExpiresAtMs > nowMs)
            {
                yield return pair;
            }
        }

        foreach (var pair in _previous)
        {
            if (pair.Value.ExpiresAtMs > nowMs && !current.ContainsKey(pair.Key))
            {
                yield return pair;
            }
        }
    }
}
