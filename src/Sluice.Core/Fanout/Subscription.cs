using System.Threading.Channels;
using Sluice.Streams;

namespace Sluice.Fanout;

/// <summary>
/// One open SSE response's live queue: bounded, so a subscriber that cannot keep up is cut off (it resumes
/// from the log) instead of growing server memory. Publishers never wait on it.
/// </summary>
public sealed class Subscription : IDisposable
{
    private readonly Channel<LiveItem> _queue;
    private readonly CancellationTokenSource _cts;
    private readonly Action<Subscription> _onDispose;
    private int _endReason = -1;

    internal Subscription(long id, StreamKey key, int capacity, CancellationToken requestAborted, Action<Subscription> onDispose)
    {
        Id = id;
        Key = key;
        _queue = Channel.CreateBounded<LiveItem>(new BoundedChannelOptions(capacity)
        {
            SingleReader = true,
            SingleWriter = false,
            FullMode = BoundedChannelFullMode.Wait,
        });
        _cts = CancellationTokenSource.CreateLinkedTokenSource(requestAborted);
        _onDispose = onDispose;
    }

    public long Id { get; }

    public StreamKey Key { get; }

    /// <summary>Cancelled when the client goes away or the subscriber overflows: pending writes stop at once.</summary>
    public CancellationToken Token => _cts.Token;

    public ChannelReader<LiveItem> Reader => _queue.Reader;

    /// <summary>Set once, by the first reason to end (overflow or a server request to reconnect).</summary>
    public SessionEnd? EndReason => _endReason < 0 ? null : (SessionEnd)Volatile.Read(ref _endReason);

    /// <summary>The <c>retry:</c> to send when ending with <see cref="SessionEnd.Reconnect"/>.</summary>
    public TimeSpan? ReconnectRetry { get; private set; }

    internal void Offer(StoredEvent e)
    {
        if (!_queue.Writer.TryWrite(new LiveItem(e, default)))
        {
            End(SessionEnd.Overflow, null);
        }
    }

    /// <summary>Heartbeats are droppable: a full queue already has something to send.</summary>
    internal void OfferUnnumbered(ReadOnlyMemory<byte> frame) => _queue.Writer.TryWrite(new LiveItem(null, frame));

    /// <summary>Ends the subscription: the reader drains what is queued, then sees the reason.</summary>
    public void End(SessionEnd reason, TimeSpan? retry)
    {
        if (Interlocked.CompareExchange(ref _endReason, (int)reason, -1) != -1)
        {
            return;
        }

        ReconnectRetry = retry;
        _queue.Writer.TryComplete();
        if (reason == SessionEnd.Overflow)
        {
            // A subscriber that overflowed may be stuck in a flush to a client that never reads.
            try
            {
                _cts.Cancel();
            }
            catch (ObjectDisposedException)
            {
            }
        }
    }

    public void Dispose()
    {
        _queue.Writer.TryComplete();
        _onDispose(this);
        _cts.Dispose();
    }
}
