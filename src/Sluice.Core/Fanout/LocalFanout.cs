using System.Collections.Concurrent;
using Sluice.Streams;

namespace Sluice.Fanout;

/// <summary>
/// The in-process feed: per stream a copy-on-write array of subscriptions, so announcing is a lock-free
/// walk that hands each subscriber a reference to the same event (whose frame bytes are shared).
/// </summary>
public sealed class LocalFanout : ILiveFeed
{
    private readonly ConcurrentDictionary<StreamKey, Topic> _topics = new();

    /// <summary>Number of streams with at least one local subscriber.</summary>
    public int TopicCount => _topics.Count;

    public void Announce(StreamKey key, IReadOnlyList<StoredEvent> events)
    {
        if (!_topics.TryGetValue(key, out var topic))
        {
            return;
        }

        var subscribers = topic.Subscribers;
        foreach (var subscriber in subscribers)
        {
            for (var i = 0; i < events.Count; i++)
            {
                subscriber.Offer(events[i]);
            }
        }
    }

    public IDisposable Watch(StreamKey key, Subscription subscription)
    {
        while (true)
        {
            var topic = _topics.GetOrAdd(key, static _ => new Topic());
            lock (topic)
            {
                if (topic.Removed)
                {
                    continue;
                }

                topic.Subscribers = [.. topic.Subscribers, subscription];
                return new Registration(this, key, topic, subscription);
            }
        }
    }

    private void Unwatch(StreamKey key, Topic topic, Subscription subscription)
    {
        lock (topic)
        {
            var current = topic.Subscribers;
            var index = Array.IndexOf(current, subscription);
            if (index < 0)
            {
                return;
            }

            if (current.Length == 1)
            {
                topic.Subscribers = [];
                topic.Removed = true;
                _topics.TryRemove(new KeyValuePair<StreamKey, Topic>(key, topic));
                return;
            }

            var next = new Subscription[current.Length - 1];
            Array.Copy(current, 0, next, 0, index);
            Array.Copy(current, index + 1, next, index, current.Length - index - 1);
            topic.Subscribers = next;
        }
    }

    private sealed class Topic
    {
        public volatile Subscription[] Subscribers = [];
        public bool Removed;
    }

    private sealed class Registration(LocalFanout owner, StreamKey key, Topic topic, Subscription subscription) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                owner.Unwatch(key, topic, subscription);
            }
        }
    }
}
