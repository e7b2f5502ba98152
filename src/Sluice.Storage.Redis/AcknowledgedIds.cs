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

    public readonly record struct Entry(long LastId, long ExpiresAtMs);

    public int Count => _current.Count + _previous.Count;

    public void Remember(StreamKey key, long lastId, long expiresAtMs)
    {
        var entry = new Entry(lastId, expiresAtMs);
        _current.AddOrUpdate(key, static (_, e) => e, static (_, old, e) => new Entry(Math.Max(old.LastId, e.LastId), Math.Max(old.ExpiresAtMs, e.ExpiresAtMs)), entry);
        if (_current.Count >= capacity / 2)
        {
            lock (_rotate)
            {
                if (_current.Count >= capacity / 2)
                {
                    _previous = _current;
                    _current = new ConcurrentDictionary<StreamKey, Entry>();
                }
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

    /// <summary>Every stream still remembered and not expired.</summary>
    public IEnumerable<KeyValuePair<StreamKey, long>> Live(long nowMs) =>
        _previous.Concat(_current).Where(p => p.Value.ExpiresAtMs > nowMs)
            .GroupBy(p => p.Key).Select(g => new KeyValuePair<StreamKey, long>(g.Key, g.Max(p => p.Value.LastId)));
}
