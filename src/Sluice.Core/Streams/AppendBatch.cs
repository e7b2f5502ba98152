namespace Sluice.Streams;

/// <summary>
/// One append as the hub decided it: the events, the time stamped on each, whether the batch closes the stream
/// (it holds a terminal event), and how many events the stream keeps (older ones are trimmed with the append).
/// Built by <see cref="Of"/> only, so that the policy lives in one place and no backend decides it again.
/// </summary>
internal readonly record struct AppendBatch
{
    private AppendBatch(IReadOnlyList<NewEvent> events, DateTimeOffset at, bool closes, long keepLast)
    {
        Events = events;
        At = at;
        Closes = closes;
        KeepLast = keepLast;
    }

    public IReadOnlyList<NewEvent> Events { get; }

    public DateTimeOffset At { get; }

    public bool Closes { get; }

    /// <summary><c>Sluice:Retention:MaxEventsPerStream</c> at the time of the append.</summary>
    public long KeepLast { get; }

    public static AppendBatch Of(IReadOnlyList<NewEvent> events, DateTimeOffset at, long keepLast)
    {
        var closes = false;
        foreach (var e in events)
        {
            closes |= EventTypes.IsTerminal(e.Type);
        }

        return new AppendBatch(events, at, closes, keepLast);
    }
}
