using Sluice.Streams;

namespace Sluice.Fanout;

/// <summary>The live feed of a single node (memory and SQLite stores): announcements go straight to this process's listeners.</summary>
internal sealed class InProcessLiveFeed : ILiveFeed
{
    private readonly LiveListeners _listeners = new();

    public void Announce(StreamKey key, IReadOnlyList<StoredEvent> events) => _listeners.Deliver(key, events);

    public ValueTask<IDisposable> ListenAsync(StreamKey key, ILiveListener listener, CancellationToken cancellationToken)
    {
        _listeners.Add(key, listener);
        return ValueTask.FromResult<IDisposable>(new Registration(_listeners, key, listener));
    }

    private sealed class Registration(LiveListeners listeners, StreamKey key, ILiveListener listener) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                listeners.Remove(key, listener);
            }
        }
    }
}
