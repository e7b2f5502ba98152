using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using Sluice.Configuration;
using Sluice.Streams;

namespace Sluice.Fanout;

/// <summary>
/// The hub's node-local fan-out: per stream with a subscriber on this node, one listener on the live feed, a
/// copy-on-write array of subscriptions, and a walk that hands each subscriber a reference to the same event
/// (whose frame bytes are shared). What arrives is put back in id order first and stripped of what was already
/// delivered: appends commit in order but their continuations run on different threads, a cluster feed echoes
/// this node's own appends, and every out-of-order event would send every subscriber to the log to heal the gap.
/// </summary>
internal sealed class LocalFanout
{
    private readonly ConcurrentDictionary<StreamKey, Topic> _topics = new();
    private readonly IOptionsMonitor<SluiceOptions> _options;
    private readonly IEventLog _log;
    private readonly ILiveFeed _feed;
    private readonly TimeProvider _time;
    private readonly Storage.IStoreFaults _faults;

    public LocalFanout(IOptionsMonitor<SluiceOptions> options, IEventLog log, ILiveFeed feed, TimeProvider time, Storage.IStoreFaults faults)
    {
        _faults = faults;
        _options = options;
        _log = log;
        _feed = feed;
        _time = time;
    }

    /// <summary>How long a gap in a stream's announcements may last before the fan-out reads it from the log.</summary>
    public static TimeSpan GapHealDelay { get; } = TimeSpan.FromMilliseconds(250);

    /// <summary>How long a topic waits before reading the log again when the store was unreachable.</summary>
    public static TimeSpan OutageRetryDelay { get; } = TimeSpan.FromSeconds(1);

    /// <summary>Events read from the log at once when the feed says it missed announcements.</summary>
    private const int CatchUpBatch = 1024;

    /// <summary>Number of streams with at least one local subscriber.</summary>
    public int TopicCount => _topics.Count;

    private void Receive(Topic topic, IReadOnlyList<StoredEvent> events)
    {
        if (events.Count == 0)
        {
            return;
        }

        lock (topic.Order)
        {
            events = Unseen(topic, events);
            if (events.Count == 0)
            {
                return;
            }

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
                    _ = HealAsync(topic, GapHealDelay);
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
                batch = Unseen(topic, batch);
                if (batch.Count > 0)
                {
                    Deliver(topic, batch);
                }
            }
        }
    }

    /// <summary>The part of a batch (ids ascending and dense) not delivered yet.</summary>
    private static IReadOnlyList<StoredEvent> Unseen(Topic topic, IReadOnlyList<StoredEvent> events)
    {
        var next = topic.NextId;
        if (next == 0 || events[0].Id >= next)
        {
            return events;
        }

        if (events[^1].Id < next)
        {
            return [];
        }

        var skip = (int)(next - events[0].Id);
        var rest = new StoredEvent[events.Count - skip];
        for (var i = 0; i < rest.Length; i++)
        {
            rest[i] = events[skip + i];
        }

        return rest;
    }

    private const int MaxStashedBatches = 64;

    /// <summary>Reads from the log what the topic lacks: the gap before its first stashed batch, or (after a missed feed) whatever follows.</summary>
    private async Task HealAsync(Topic topic, TimeSpan delay)
    {
        try
        {
            if (delay > TimeSpan.Zero)
            {
                await Task.Delay(delay, _time);
            }

            long after;
            int count;
            bool catchUp;
            lock (topic.Order)
            {
                topic.HealScheduled = false;
                if (topic.Removed)
                {
                    return;
                }

                if (topic.Stash is { Count: > 0 } stash)
                {
                    after = topic.NextId - 1;
                    count = (int)Math.Min(int.MaxValue, stash.Keys.First() - after - 1);
                }
                else if (topic.CatchUp)
                {
                    after = topic.NextId > 0 ? topic.NextId - 1 : topic.Subscribers.Select(s => s.LastSent).DefaultIfEmpty(long.MaxValue).Min();
                    count = CatchUpBatch;
                }
                else
                {
                    return;
                }

                catchUp = topic.CatchUp;
                topic.CatchUp = false;
            }

            IReadOnlyList<StoredEvent> missing;
            try
            {
                missing = await _log.ReadAsync(topic.Key, after, count, CancellationToken.None);
            }
            catch (Exception ex) when (_faults.IsUnavailable(ex))
            {
                // The store is away (the feed usually says "missed" the moment it reconnects, which may be before
                // the store serves reads). Try again until it answers: after an outage this read is what brings
                // every open response on the stream up to date, since nothing else will announce what they missed.
                lock (topic.Order)
                {
                    topic.CatchUp |= catchUp;
                    if (topic.Removed || topic.HealScheduled)
                    {
                        return;
                    }

                    topic.HealScheduled = true;
                }

                _ = HealAsync(topic, OutageRetryDelay);
                return;
            }

            if (missing.Count > 0)
            {
                Receive(topic, missing);
            }

            if (catchUp && missing.Count == count)
            {
                Missed(topic); // more than one batch was missed
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // Best effort: subscribers still heal from the log on their own when they meet the gap.
        }
    }

    private void Missed(Topic topic)
    {
        lock (topic.Order)
        {
            topic.CatchUp = true;
            if (topic.HealScheduled)
            {
                return;
            }

            topic.HealScheduled = true;
        }

        _ = HealAsync(topic, TimeSpan.Zero);
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
        }

        topic.NextId = Math.Max(topic.NextId, events[^1].Id + 1);
        topic.ScheduleDeliveryPass();
    }

    /// <summary>
    /// Hands the stream's live events to the subscription (through <see cref="Subscription.Ring"/>) until the
    /// result is disposed. Completes once the stream's listener is on the feed, so a read of the log after it
    /// misses nothing.
    /// </summary>
    public async ValueTask<IDisposable> WatchAsync(StreamKey key, Subscription subscription, CancellationToken cancellationToken)
    {
        while (true)
        {
            if (!_topics.TryGetValue(key, out var topic))
            {
                var limits = _options.CurrentValue.Limits;
                var created = new Topic(this, key, limits.SubscriberBufferEvents, limits.SubscriberBufferBytes);
                if (!_topics.TryAdd(key, created))
                {
                    continue;
                }

                topic = created;
                topic.StartListening(_feed);
            }

            lock (topic)
            {
                if (topic.Removed)
                {
                    continue;
                }

                topic.Subscribers = [.. topic.Subscribers, subscription];
                subscription.Ring = topic.Ring;
            }

            var registration = new Registration(this, topic, subscription);
            try
            {
                await topic.Listening.WaitAsync(cancellationToken);
            }
            catch
            {
                registration.Dispose();
                throw;
            }

            return registration;
        }
    }

    private void Unwatch(Topic topic, Subscription subscription)
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
                _topics.TryRemove(new KeyValuePair<StreamKey, Topic>(topic.Key, topic));
                topic.StopListening();
                return;
            }

            var next = new Subscription[current.Length - 1];
            Array.Copy(current, 0, next, 0, index);
            Array.Copy(current, index + 1, next, index, current.Length - index - 1);
            topic.Subscribers = next;
        }
    }

    /// <remarks>
    /// Delivery is one pass per stream, not a wake-up per subscriber: the pass (a thread-pool work item, queued once
    /// however many events arrive while one is pending) wakes each subscriber's session inline, so the session writes
    /// the shared frame to its response and flushes on the pass's thread, and returns to the pass at its next wait.
    /// A flush that does not complete at once (a client that reads slowly) is awaited by that session alone, off the
    /// pass. This took a work item, a thread-pool dispatch and a cold cache per subscriber per event out of the
    /// delivery (docs/benchmarks.md, issue 18). The publisher's thread only writes the ring and queues the pass.
    /// </remarks>
    private sealed class Topic(LocalFanout owner, StreamKey key, int capacity, long maxBytes) : ILiveListener, IThreadPoolWorkItem
    {
        private int _passQueued;

        public void ScheduleDeliveryPass()
        {
            if (Interlocked.Exchange(ref _passQueued, 1) == 0)
            {
                ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
            }
        }

        void IThreadPoolWorkItem.Execute()
        {
            // Cleared before the walk: events that arrive during it queue the next pass, so none waits for a wake-up.
            Volatile.Write(ref _passQueued, 0);
            foreach (var subscriber in Subscribers)
            {
                subscriber.NotifyInline();
            }
        }

        public readonly StreamKey Key = key;
        public readonly EventRing Ring = new(capacity, maxBytes);

        public volatile Subscription[] Subscribers = [];
        public bool Removed;

        /// <summary>Guards <see cref="NextId"/>, <see cref="Stash"/> and the heal flags: announcements of one stream are serialized.</summary>
        public readonly object Order = new();
        public long NextId;
        public SortedDictionary<long, IReadOnlyList<StoredEvent>>? Stash;
        public bool HealScheduled;
        public bool CatchUp;

        // Completed by the watcher that added the topic; the others, who may find the topic first, wait on it.
        private readonly TaskCompletionSource<IDisposable?> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Completes once the feed delivers to this topic.</summary>
        public Task Listening => _listening.Task;

        public void StartListening(ILiveFeed feed) => _ = ListenAsync(feed);

        private async Task ListenAsync(ILiveFeed feed)
        {
            try
            {
                _listening.TrySetResult(await feed.ListenAsync(Key, this, CancellationToken.None));
            }
            catch (Exception ex)
            {
                // A feed does not fail a listen (it retries inside); should one, its subscribers fail rather than hang.
                _listening.TrySetException(ex);
            }
        }

        public void StopListening() =>
            _ = _listening.Task.ContinueWith(static t => t.Result?.Dispose(), CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

        public void OnEvents(IReadOnlyList<StoredEvent> events) => owner.Receive(this, events);

        public void OnMissed() => owner.Missed(this);
    }

    private sealed class Registration(LocalFanout owner, Topic topic, Subscription subscription) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                owner.Unwatch(topic, subscription);
            }
        }
    }
}
