using System.Threading.Tasks.Sources;

namespace Sluice.Fanout;

/// <summary>
/// An auto-reset wake-up for one waiter, without allocation per wait. Any number of <see cref="Set"/> calls
/// while the waiter is busy collapse into one wake-up: that is what batches a lagging subscriber's writes.
/// </summary>
internal sealed class Signal : IValueTaskSource
{
    private const int Idle = 0;
    private const int Signaled = 1;
    private const int Waiting = 2;

    private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = true };
    private int _state;

    /// <summary>Wakes the waiter on the thread pool (or marks the signal for its next wait).</summary>
    public void Set() => Wake(inline: false);

    /// <summary>
    /// Wakes the waiter on this thread: its continuation runs here until its next real wait. Only for a caller that
    /// walks many waiters in a loop of its own (the fan-out's pass), where a work item per waiter is the cost.
    /// </summary>
    public void SetInline() => Wake(inline: true);

    private void Wake(bool inline)
    {
        while (true)
        {
            switch (Volatile.Read(ref _state))
            {
                case Signaled:
                    return;
                case Idle:
                    if (Interlocked.CompareExchange(ref _state, Signaled, Idle) == Idle)
                    {
                        return;
                    }

                    break;
                default:
                    if (Interlocked.CompareExchange(ref _state, Idle, Waiting) == Waiting)
                    {
                        // Only the one caller that won the exchange completes this wait, so the mode is its to choose.
                        _core.RunContinuationsAsynchronously = !inline;
                        _core.SetResult(true);
                        return;
                    }

                    break;
            }
        }
    }

    /// <summary>Completes at once if signaled since the last wait, else at the next <see cref="Set"/>. One waiter at a time.</summary>
    public ValueTask WaitAsync()
    {
        if (Interlocked.CompareExchange(ref _state, Idle, Signaled) == Signaled)
        {
            return ValueTask.CompletedTask;
        }

        _core.Reset();
        if (Interlocked.CompareExchange(ref _state, Waiting, Idle) == Idle)
        {
            return new ValueTask(this, _core.Version);
        }

        // Set between the two exchanges: consume it.
        Interlocked.Exchange(ref _state, Idle);
        return ValueTask.CompletedTask;
    }

    void IValueTaskSource.GetResult(short token) => _core.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
