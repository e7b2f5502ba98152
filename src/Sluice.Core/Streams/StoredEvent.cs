namespace Sluice.Streams;

/// <summary>
/// An event as the log holds it. Its SSE frame is encoded at most once and the bytes shared by every
/// connection that sends it (see <see cref="SseFrames"/>).
/// </summary>
public sealed class StoredEvent
{
    private byte[]? _frame;

    public StoredEvent(long id, string type, string data, DateTimeOffset timestamp)
    {
        Id = id;
        Type = type;
        Data = data;
        Timestamp = timestamp;
    }

    public long Id { get; }

    public string Type { get; }

    /// <summary>Compact single-line JSON object.</summary>
    public string Data { get; }

    public DateTimeOffset Timestamp { get; }

    public bool IsTerminal => EventTypes.IsTerminal(Type);

    /// <summary>The encoded <c>id/event/data</c> frame. Races encode twice at worst; both results are equal.</summary>
    public ReadOnlyMemory<byte> Frame => _frame ??= SseFrames.Encode(this);
}
