namespace Sluice.Streams;

/// <summary>The outcome of one append: either every event was stored, or none was.</summary>
internal readonly struct AppendResult
{
    private AppendResult(AppendStatus status, IReadOnlyList<StoredEvent> events)
    {
        Status = status;
        Events = events;
    }

    public AppendStatus Status { get; }

    /// <summary>The stored events with their ids, in order; empty unless <see cref="AppendStatus.Appended"/>.</summary>
    public IReadOnlyList<StoredEvent> Events { get; }

    public static AppendResult Appended(IReadOnlyList<StoredEvent> events) => new(AppendStatus.Appended, events);

    public static AppendResult StreamClosed { get; } = new(AppendStatus.StreamClosed, []);

    public static AppendResult LeaseLost { get; } = new(AppendStatus.LeaseLost, []);
}

internal enum AppendStatus
{
    Appended,

    /// <summary>A terminal event was stored earlier: the stream takes no more.</summary>
    StreamClosed,

    /// <summary>The batch was fenced by a generation lease that is no longer the stream's holder: nothing was stored.</summary>
    LeaseLost,
}
