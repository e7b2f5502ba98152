using Sluice.Streams;

namespace Sluice.Fanout;

/// <summary>
/// Live fan-out of appended events to the subscribers of a stream. The in-process feed delivers directly;
/// a cluster feed (Redis pub/sub) carries announcements between nodes and hands them to the local one.
/// Delivery is best effort and may reorder: subscribers detect any gap by id and read the log again.
/// </summary>
internal interface ILiveFeed
{
    /// <summary>Offers the appended events to every subscriber of the stream (on every node).</summary>
    void Announce(StreamKey key, IReadOnlyList<StoredEvent> events);

    /// <summary>Starts delivering the stream's announcements to the subscription until the result is disposed.</summary>
    IDisposable Watch(StreamKey key, Subscription subscription);
}
