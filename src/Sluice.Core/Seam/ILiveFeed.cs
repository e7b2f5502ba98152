using Sluice.Streams;

namespace Sluice.Fanout;

/// <summary>
/// Carries appended events to the nodes whose clients read the stream: transport only. The hub's node-local
/// fan-out (<see cref="LocalFanout"/>) listens once per stream with a local subscriber, puts what arrives in id
/// order, drops what it already has, keeps the shared ring and heals gaps from the log; a backend implements
/// no policy here. The in-process feed (<see cref="InProcessLiveFeed"/>) hands announcements to the listeners
/// of this process; a cluster feed (Redis pub/sub) also receives what other nodes appended.
/// Delivery is best effort: a feed may drop or repeat announcements, and says so with
/// <see cref="ILiveListener.OnMissed"/> when it knows (a reconnect).
/// </summary>
internal interface ILiveFeed
{
    /// <summary>
    /// Offers events the hub has just appended to the stream's listeners in this process at once (and to other
    /// nodes, when the backend's append does not publish them itself). Called on the publish path: must not block.
    /// </summary>
    void Announce(StreamKey key, IReadOnlyList<StoredEvent> events);

    /// <summary>
    /// Starts delivering the stream's announcements to <paramref name="listener"/> until the result is disposed.
    /// Completes once announcements made after it completes are sure to be delivered (for a cluster feed: the
    /// subscription is confirmed), so a reader that reads the log after it misses nothing. Does not fail when the
    /// backend is unreachable: it keeps trying, and calls <see cref="ILiveListener.OnMissed"/> when it is back.
    /// </summary>
    ValueTask<IDisposable> ListenAsync(StreamKey key, ILiveListener listener, CancellationToken cancellationToken);
}

/// <summary>What a live feed delivers to; called from the feed's threads, one call at a time per stream for a cluster feed.</summary>
internal interface ILiveListener
{
    /// <summary>Events of the stream, ascending by id within the batch; batches may repeat, skip or reorder.</summary>
    void OnEvents(IReadOnlyList<StoredEvent> events);

    /// <summary>Announcements may have been lost (the feed reconnected): read what is missing from the log.</summary>
    void OnMissed();
}
