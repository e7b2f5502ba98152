namespace Sluice.Streams;

/// <summary>
/// One append as the hub decided it: the events, the time stamped on each, whether the batch closes the stream
/// (it holds a terminal event), how many events the stream keeps (older ones are trimmed with the append), and
/// how long it is kept after this append (zero: no expiry of its own).
/// Built by <see cref="Of"/> only, so that the policy lives in one place and no backend decides it again.
/// </summary>
internal readonly record struct AppendBatch
{
    private AppendBatch(IReadOnlyList<NewEvent> events, DateTimeOffset at, bool closes, long keepLast, TimeSpan retainFor, string? fence)
    {
        Fence = fence;
        Events = events;
        At = at;
        Closes = closes;
        KeepLast = keepLast;
        RetainFor = retainFor;
    }

    public IReadOnlyList<NewEvent> Events { get; }

    public DateTimeOffset At { get; }

    public bool Closes { get; }

    /// <summary><c>Sluice:Retention:MaxEventsPerStream</c> at the time of the append.</summary>
    public long KeepLast { get; }

    /// <summary>
    /// <c>Sluice:Retention:Age</c>: how long the stream is kept after this append. The retention sweep removes it
    /// then; a store with expiring keys (Redis) also sets them to expire after it, as a backstop.
    /// </summary>
    public TimeSpan RetainFor { get; }

    /// <summary>
    /// The lease token of the generation writing the batch (<see cref="Generations.GenerationLease"/>), or null. A log
    /// whose leases are shared (Redis) appends only while the stream's lease is this token's, and answers
    /// <see cref="AppendStatus.LeaseLost"/> otherwise; the embedded logs have one writer process and ignore it.
    /// </summary>
    public string? Fence { get; }

    public static AppendBatch Of(IReadOnlyList<NewEvent> events, DateTimeOffset at, long keepLast, TimeSpan? retainFor = null, string? fence = null)
    {
        var closes = false;
        foreach (var e in events)
        {
            closes |= EventTypes.IsTerminal(e.Type);
        }

        return new AppendBatch(events, at, closes, keepLast, retainFor ?? TimeSpan.Zero, fence);
    }
}
