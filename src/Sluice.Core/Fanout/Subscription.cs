using Sluice.Streams;

namespace Sluice.Fanout;

/// <summary>
/// One open SSE response as the fan-out sees it: a cursor (the last id sent), a wake-up signal, and an
/// end reason. It owns no queue: live events are read from the stream's shared <see cref="EventRing"/>, so
/// a subscriber that falls behind costs no memory; one that falls further behind than the ring holds is
/// cut off (it resumes from the log).
/// </summary>
internal sealed class Subscription : IDisposable
{
    private readonly Signal _signal = new();
    private readonly CancellationTokenSource _cts;
    private readonly CancellationTokenRegistration _wakeOnCancel;
    private readonly Action<Subscription> _onDispose;
    private int _endReason = -1;
    private int _heartbeatPending;
    private long _lastSent;
    private volatile bool _live;
    private ITimer? _writeDeadline;
    private ITimer? _expiry;
    private DateTimeOffset _expiresAt;
    private TimeProvider? _time;

    internal Subscription(long id, StreamKey key, CancellationToken requestAborted, Action<Subscription> onDispose)
    {
        Id = id;
        Key = key;
        _cts = CancellationTokenSource.CreateLinkedTokenSource(requestAborted);
        _wakeOnCancel = _cts.Token.UnsafeRegister(static s => ((Signal)s!).Set(), _signal);
        _onDispose = onDispose;
    }

    public long Id { get; }

    public StreamKey Key { get; }

    /// <summary>The API key the response was opened with (directly or through an access token it minted).</summary>
    public string? KeyId { get; private set; }

    /// <summary>Cancelled when the client goes away or the subscriber is cut off: pending writes stop at once.</summary>
    public CancellationToken Token => _cts.Token;

    /// <summary>Set once, by the first reason to end (overflow or a server request to reconnect).</summary>
    public SessionEnd? EndReason => Volatile.Read(ref _endReason) is var r && r < 0 ? null : (SessionEnd)r;

    /// <summary>The <c>retry:</c> to send when ending with <see cref="SessionEnd.Reconnect"/>.</summary>
    public TimeSpan? ReconnectRetry { get; private set; }

    /// <summary>The id of the last event written to this client.</summary>
    public long LastSent
    {
        get => Volatile.Read(ref _lastSent);
        internal set => Volatile.Write(ref _lastSent, value);
    }

    /// <summary>True once the subscriber has caught up with the log and reads live events from the ring.</summary>
    internal bool IsLive => _live;

    internal EventRing? Ring { get; set; }

    internal void MarkLive() => _live = true;

    internal ValueTask WaitAsync() => _signal.WaitAsync();

    /// <summary>New events are in the ring. Many notifications while the subscriber is busy make one wake-up.</summary>
    internal void Notify() => _signal.Set();

    /// <summary>As <see cref="Notify"/>, but the session's loop runs on the caller's thread (the stream's delivery pass).</summary>
    internal void NotifyInline() => _signal.SetInline();

    internal void RequestHeartbeat()
    {
        Volatile.Write(ref _heartbeatPending, 1);
        _signal.Set();
    }

    internal bool TakeHeartbeat() => Interlocked.Exchange(ref _heartbeatPending, 0) == 1;

    /// <summary>
    /// Starts the clock on a write that did not complete at once: a client that stops reading must not hold
    /// its connection (or a replay) forever. Only slow writes arm it, so the fast path costs nothing.
    /// </summary>
    internal void ArmWriteDeadline(TimeProvider time, TimeSpan timeout)
    {
        _writeDeadline ??= time.CreateTimer(static s => ((Subscription)s!).End(SessionEnd.WriteTimeout, null), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _writeDeadline.Change(timeout, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Ties the response to its credential: revoking <paramref name="keyId"/> or reaching <paramref name="expiresAt"/> ends it.</summary>
    internal void BindCredential(string? keyId, DateTimeOffset? expiresAt, TimeProvider time)
    {
        KeyId = keyId;
        if (expiresAt is { } at)
        {
            _expiresAt = at;
            _time = time;
            var due = at - time.GetUtcNow();
            _expiry = time.CreateTimer(static s => ((Subscription)s!).OnExpiry(), this, due > TimeSpan.Zero ? due : TimeSpan.Zero, Timeout.InfiniteTimeSpan);
        }
    }

    private void OnExpiry()
    {
        // Timers run on a monotonic clock and may fire a little before the wall clock reaches the expiry; ending
        // then would leave a moment in which a reconnect with the same credential is still accepted.
        var left = _expiresAt - _time!.GetUtcNow();
        if (left > TimeSpan.Zero)
        {
            _expiry?.Change(left + TimeSpan.FromMilliseconds(1), Timeout.InfiniteTimeSpan);
            return;
        }

        End(SessionEnd.CredentialExpired, null);
    }

    internal void DisarmWriteDeadline() => _writeDeadline?.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);

    /// <summary>Ends the subscription; the session sees the reason at its next wake-up.</summary>
    public void End(SessionEnd reason, TimeSpan? retry)
    {
        if (Interlocked.CompareExchange(ref _endReason, (int)reason, -1) != -1)
        {
            return;
        }

        ReconnectRetry = retry;
        if (reason is SessionEnd.Overflow or SessionEnd.WriteTimeout)
        {
            // A subscriber that fell behind may be stuck in a flush to a client that never reads.
            try
            {
                _cts.Cancel();
            }
            catch (ObjectDisposedException)
            {
            }
        }

        _signal.Set();
    }

    public void Dispose()
    {
        _writeDeadline?.Dispose();
        _expiry?.Dispose();
        _onDispose(this);
        _wakeOnCancel.Dispose();
        _cts.Dispose();
    }
}
