namespace Sluice.Client;

/// <summary>How a connection is doing, for a status line or a health check (docs/clients.md, "Connection state").</summary>
public enum SluiceConnectionQuality
{
    /// <summary>No reconnect in the last 5 minutes and the last event under 30 s ago.</summary>
    Excellent,

    /// <summary>One or two reconnects in the last 5 minutes.</summary>
    Good,

    /// <summary>Three or more reconnects in the last 5 minutes, or nothing received for 30–60 s.</summary>
    Poor,

    /// <summary>Nothing received for over 60 s, or the retries are spent.</summary>
    Critical,
}

/// <summary>A snapshot of a <see cref="SluiceClient"/>'s connections (over all its streams).</summary>
public sealed class SluiceConnectionStats
{
    internal SluiceConnectionStats(long reconnects, long missedHeartbeats, int failedAttempts, bool retriesSpent, int recentReconnects, TimeSpan? lastEventAge, bool open,
        SluiceConnectionQuality quality)
    {
        Reconnects = reconnects;
        MissedHeartbeats = missedHeartbeats;
        FailedAttempts = failedAttempts;
        RetriesSpent = retriesSpent;
        RecentReconnects = recentReconnects;
        LastEventAge = lastEventAge;
        IsStreaming = open;
        Quality = quality;
    }

    /// <summary>Connection attempts after the first of each stream.</summary>
    public long Reconnects { get; }

    /// <summary>Connections the watchdog replaced because they were silent for three heartbeat intervals.</summary>
    public long MissedHeartbeats { get; }

    /// <summary>Failed connects in a row now (0 once a connect succeeds).</summary>
    public int FailedAttempts { get; }

    /// <summary>True when the last stream gave up with <see cref="SluiceStreamException"/> after its retries.</summary>
    public bool RetriesSpent { get; }

    /// <summary>Reconnects in the last 5 minutes, counted up to 3.</summary>
    public int RecentReconnects { get; }

    /// <summary>Time since anything (an event or a heartbeat) was received, or since the stream started; null before any stream.</summary>
    public TimeSpan? LastEventAge { get; }

    /// <summary>True while a stream is being read.</summary>
    public bool IsStreaming { get; }

    /// <summary>
    /// <see cref="SluiceConnectionQuality.Critical"/> when the retries are spent or (while streaming) nothing came for
    /// over 60 s; <see cref="SluiceConnectionQuality.Poor"/> at 30–60 s of silence or 3+ reconnects in 5 minutes;
    /// <see cref="SluiceConnectionQuality.Good"/> at 1–2 reconnects in 5 minutes; else <see cref="SluiceConnectionQuality.Excellent"/>.
    /// </summary>
    public SluiceConnectionQuality Quality { get; }
}

/// <summary>The counters behind <see cref="SluiceConnectionStats"/>; updated by the read loop, read from any thread.</summary>
internal sealed class ConnectionStats(TimeProvider time)
{
    private static readonly TimeSpan Window = TimeSpan.FromMinutes(5);
    private readonly Lock _lock = new();

    // The last three reconnect times: enough to tell 0, 1-2 or 3+ in the window, bounded however long a client lives.
    private readonly DateTimeOffset[] _recent = new DateTimeOffset[3];
    private int _next;
    private long _reconnects;
    private long _silent;
    private int _failed;
    private bool _spent;
    private int _streaming;
    private DateTimeOffset? _lastAt;

    public void Started()
    {
        lock (_lock)
        {
            _streaming++;
            _spent = false;
            _lastAt = time.GetUtcNow();
        }
    }

    public void Stopped()
    {
        lock (_lock)
        {
            _streaming--;
        }
    }

    public void Reconnected()
    {
        lock (_lock)
        {
            _reconnects++;
            _recent[_next] = time.GetUtcNow();
            _next = (_next + 1) % _recent.Length;
        }
    }

    public void Opened()
    {
        lock (_lock)
        {
            _failed = 0;
        }
    }

    public void Received()
    {
        var now = time.GetUtcNow();
        lock (_lock)
        {
            _lastAt = now;
        }
    }

    public void WentSilent()
    {
        lock (_lock)
        {
            _silent++;
        }
    }

    public void Failed(int inARow)
    {
        lock (_lock)
        {
            _failed = inARow;
        }
    }

    public void Spent()
    {
        lock (_lock)
        {
            _spent = true;
        }
    }

    public SluiceConnectionStats Snapshot()
    {
        var now = time.GetUtcNow();
        lock (_lock)
        {
            var recent = _recent.Count(at => at != default && now - at <= Window);
            TimeSpan? age = _lastAt is { } at ? now - at : null;
            var streaming = _streaming > 0;
            var silence = streaming && age is { } a ? a : TimeSpan.Zero;
            var quality = _spent || silence > TimeSpan.FromSeconds(60) ? SluiceConnectionQuality.Critical
                : silence >= TimeSpan.FromSeconds(30) || recent >= 3 ? SluiceConnectionQuality.Poor
                : recent > 0 ? SluiceConnectionQuality.Good
                : SluiceConnectionQuality.Excellent;
            return new SluiceConnectionStats(_reconnects, _silent, _failed, _spent, recent, age, streaming, quality);
        }
    }
}
