using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using Sluice.Configuration;
using Sluice.Streams;

namespace Sluice.Fanout;

/// <summary>
/// The in-process feed: per stream a copy-on-write array of subscriptions, and a walk that hands each
/// subscriber a reference to the same event (whose frame bytes are shared). Announcements of one stream are
/// put back in id order first: appends commit in order but their continuations run on different threads,
/// and every out-of-order event would send every subscriber of the stream to the log to heal the gap.
/// </summary>
internal sealed class LocalFanout : ILiveFeed
{
    private readonly ConcurrentDictionary<StreamKey, Topic> _topics = new();
    private readonly IOptionsMonitor<SluiceOptions> _options;
    private readonly IEventLog _log;
    private readonly TimeProvider _time;

    public LocalFanout(IOptionsMonitor<SluiceOptions> options, IEventLog log, TimeProvider time)
    {
        _options = options;
        _log = log;
        _time = time;
    }

    /// <summary>How long a gap in a stream's announcements may last before the fan-out reads it from the log.</summary>
    public static TimeSpan GapHealDelay { get; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Number of streams with at least one local subscriber.</summary>
    public int TopicCount => _topics.Count;

    public void Announce(StreamKey key, IReadOnlyList<StoredEvent> events)
    {
        if (events.Count == 0 || !_topics.TryGetValue(key, out var topic))
        {
            return;
        }

        lock (topic.Order)
        {
            var first = events[0].Id;
            if (topic.NextId != 0 && first > topic.NextId)
            {
                // A predecessor is still on its way: hold this batch until it comes, within a bound.
                topic.Stash ??= new SortedDictionary<long, IReadOnlyList<StoredEvent>>();
                topic.Stash[first] = events;
                if (!topic.HealScheduled)
                {
                    // Normally the predecessor arrives within microseconds. If it was lost (a cluster feed
                    // drops messages), read it from the log once for the whole topic, not once per subscriber.
                    topic.HealScheduled = true;
                    _ = HealAsync(key, topic);
                }

                if (topic.Stash.Count <= MaxStashedBatches)
                {
                    return;
                }

                // Far too long a wait: deliver what we have; subscribers heal from the log themselves.
                topic.NextId = topic.Stash.Keys.First();
            }
            else
            {
                Deliver(topic, events);
            }

            while (topic.Stash is { Count: > 0 } stash)
            {
                var (next, batch) = stash.First();
                if (next > topic.NextId)
                {
                    break;
                }

                stash.Remove(next);
                Deliver(topic, batch);
            }
        }
    }

    private const int MaxStashedBatches = 64;

    private async Task HealAsync(StreamKey key, Topic topic)
    {
        try
        {
            await Task.Delay(GapHealDelay, _time);
            long after, until;
            lock (topic.Order)
            {
                topic.HealScheduled = false;
                if (topic.Stash is not { Count: > 0 } stash || topic.Removed)
                {
                    return;
                }

                after = topic.NextId - 1;
                until = stash.Keys.First();
            }

            var missing = await _log.ReadAsync(key, after, (int)Math.Min(int.MaxValue, until - after - 1), CancellationToken.None);
            if (missing.Count > 0)
            {
                Announce(key, missing);
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // Best effort: subscribers still heal from the log on their own when they meet the gap.
        }
    }

    private static void Deliver(Topic topic, IReadOnlyList<StoredEvent> events)
    {
        var subscribers = topic.Subscribers;
        var oldestUnsent = events[0].Id - 1;
        foreach (var subscriber in subscribers)
        {
            if (subscriber.IsLive)
            {
                oldestUnsent = Math.Min(oldestUnsent, subscriber.LastSent);
            }
        }

        var ring = topic.Ring;
        ring.Write(events, oldestUnsent);
        var tail = ring.Tail;
        foreach (var subscriber in subscribers)
        {
            // A live subscriber whose unsent events were overwritten or let go cannot keep up: cut it off, even
            // (above all) when it is stuck writing to a client that does not read.
            if (subscriber.IsLive && subscriber.LastSent + 1 < tail)
            {
                subscriber.End(SessionEnd.Overflow, null);
            }
            else
            {
                subscriber.Notify();
            }
        }

        topic.NextId = Math.Max(topic.NextId, events[^1].Id + 1);
    }

    public IDisposable Watch(StreamKey key, Subscription subscription)
    {
        while (true)
        {
            var limits = _options.CurrentValue.Limits;
            var topic = _topics.GetOrAdd(key, static (_, l) => new Topic(l.SubscriberBufferEvents, l.SubscriberBufferBytes), limits);
            lock (topic)
            {
                if (topic.Removed)
                {
                    continue;
                }

                topic.Subscribers = [.. topic.Subscribers, subscription];
                subscription.Ring = topic.Ring;
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

    private sealed class Topic(int capacity, long maxBytes)
    {
        public readonly EventRing Ring = new(capacity, maxBytes);

        public volatile Subscription[] Subscribers = [];
        public bool Removed;

        /// <summary>Guards <see cref="NextId"/> and <see cref="Stash"/>: announcements of one stream are serialized.</summary>
        public readonly object Order = new();
        public long NextId;
        public SortedDictionary<long, IReadOnlyList<StoredEvent>>? Stash;
        public bool HealScheduled;
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
