using System.Collections.Concurrent;
using Sluice.Streams;

namespace Sluice.Fanout;

/// <summary>
/// The listeners of this process, per stream: a copy-on-write array, so a delivery is one dictionary lookup
/// and a walk with no lock. Shared by every <see cref="ILiveFeed"/>: a cluster feed delivers what it receives
/// from other nodes here too.
/// </summary>
internal sealed class LiveListeners
{
    private readonly ConcurrentDictionary<StreamKey, ILiveListener[]> _byStream = new();

    /// <summary>Streams with at least one listener.</summary>
    public int Count => _byStream.Count;

    public IEnumerable<StreamKey> Streams => _byStream.Keys;

    /// <summary>Adds the listener; true when it is the stream's first (a cluster feed subscribes then).</summary>
    public bool Add(StreamKey key, ILiveListener listener)
    {
        while (true)
        {
            if (_byStream.TryGetValue(key, out var current))
            {
                if (_byStream.TryUpdate(key, [.. current, listener], current))
                {
                    return false;
                }
            }
            else if (_byStream.TryAdd(key, [listener]))
            {
                return true;
            }
        }
    }

    /// <summary>Removes the listener; true when it was the stream's last (a cluster feed unsubscribes then).</summary>
    public bool Remove(StreamKey key, ILiveListener listener)
    {
        while (_byStream.TryGetValue(key, out var current))
        {
            var index = Array.IndexOf(current, listener);
            if (index < 0)
            {
                return false;
            }

            if (current.Length == 1)
            {
                if (_byStream.TryRemove(new KeyValuePair<StreamKey, ILiveListener[]>(key, current)))
                {
                    return true;
                }

                continue;
            }

            ILiveListener[] next = [.. current.AsSpan(0, index), .. current.AsSpan(index + 1)];
            if (_byStream.TryUpdate(key, next, current))
            {
                return false;
            }
        }

        return false;
    }

    public bool Has(StreamKey key) => _byStream.ContainsKey(key);

    public void Deliver(StreamKey key, IReadOnlyList<StoredEvent> events)
    {
        if (events.Count == 0 || !_byStream.TryGetValue(key, out var listeners))
        {
            return;
        }

        foreach (var listener in listeners)
        {
            listener.OnEvents(events);
        }
    }

    public void Missed(StreamKey key)
    {
        if (_byStream.TryGetValue(key, out var listeners))
        {
            foreach (var listener in listeners)
            {
                listener.OnMissed();
            }
        }
    }
}
