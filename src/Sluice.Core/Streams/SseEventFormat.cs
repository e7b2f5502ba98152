namespace Sluice.Streams;

/// <summary>
/// Another wire format for the same stream, such as OpenAI's <c>chat.completion.chunk</c> events. The
/// subscriber loop, resume rules and ids stay the same; only the bytes of each event differ.
/// </summary>
public abstract class SseEventFormat
{
    /// <summary>The event's frame in this format. Encode once and share, as the default format does (see <see cref="StoredEvent.AlternateFrame"/>).</summary>
    public abstract ReadOnlyMemory<byte> Frame(StoredEvent e);

    /// <summary>What a heartbeat is in this format.</summary>
    public abstract ReadOnlyMemory<byte> Heartbeat { get; }

    /// <summary>Written after the terminal event, before the response ends (OpenAI's <c>data: [DONE]</c>).</summary>
    public abstract ReadOnlyMemory<byte> Trailer { get; }
}
