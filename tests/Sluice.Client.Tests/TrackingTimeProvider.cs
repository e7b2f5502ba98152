using System.Collections.Concurrent;
using Microsoft.Extensions.Time.Testing;

namespace Sluice.Client.Tests;

/// <summary>
/// A fake clock that knows which of its timers are pending and when they fall due, so a test can move time straight to
/// the client's next wake-up (its backoff, its connect timeout, its watchdog) instead of guessing with real waits.
/// </summary>
internal sealed class TrackingTimeProvider(DateTimeOffset start) : FakeTimeProvider(start)
{
    private readonly ConcurrentDictionary<Tracked, DateTimeOffset> _pending = new();

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var tracked = new Tracked(this);
        tracked.Inner = base.CreateTimer(s =>
        {
            _pending.TryRemove(tracked, out _);
            callback(s);
        }, state, dueTime, period);
        tracked.Schedule(dueTime);
        return tracked;
    }

    /// <summary>The earliest pending timer, if any.</summary>
    public DateTimeOffset? NextDue => _pending.IsEmpty ? null : _pending.Values.Min();

    private sealed class Tracked(TrackingTimeProvider owner) : ITimer
    {
        public ITimer Inner { get; set; } = null!;

        public void Schedule(TimeSpan dueTime)
        {
            if (dueTime == Timeout.InfiniteTimeSpan)
            {
                owner._pending.TryRemove(this, out _);
            }
            else
            {
                owner._pending[this] = owner.GetUtcNow() + dueTime;
            }
        }

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            Schedule(dueTime);
            return Inner.Change(dueTime, period);
        }

        public void Dispose()
        {
            owner._pending.TryRemove(this, out _);
            Inner.Dispose();
        }

        public ValueTask DisposeAsync()
        {
            owner._pending.TryRemove(this, out _);
            return Inner.DisposeAsync();
        }
    }
}
