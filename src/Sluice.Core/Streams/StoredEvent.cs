namespace Sluice.Streams;

/// <summary>
/// An event as the log holds it. Its SSE frame is encoded at most once and the bytes shared by every
/// connection that sends it (see <see cref="SseFrames"/>).
/// </summary>
internal sealed class StoredEvent
{
    private byte[]? _frame;
    private byte[]? _alternate;

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

    /// <summary>What holding the event costs, estimated: strings are UTF-16 and the frame is UTF-8 bytes; the rest is object overhead.</summary>
    internal long ApproximateBytes => (Data.Length * 3L) + (Type.Length * 2L) + 160;

    public bool IsTerminal => EventTypes.IsTerminal(Type);

    /// <summary>The encoded <c>id/event/data</c> frame. Races encode twice at worst; both results are equal.</summary>
    public ReadOnlyMemory<byte> Frame => _frame ??= SseFrames.Encode(this);

    /// <summary>
    /// The frame in the one alternate format a stream is read in (a generation's OpenAI chunks), encoded once
    /// and shared like <see cref="Frame"/>. A stream has at most one such format, and its encoding depends only
    /// on the event and its stream, so the first encoder's bytes are right for every reader.
    /// </summary>
    public ReadOnlyMemory<byte> AlternateFrame<TState>(Func<StoredEvent, TState, byte[]> encode, TState state) => _alternate ??= encode(this, state);
}
