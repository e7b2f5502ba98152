namespace Sluice.Streams;

/// <summary>
/// Another wire format for the same stream, such as OpenAI's <c>chat.completion.chunk</c> events. The
/// subscriber loop, resume rules and ids stay the same; only the bytes of each event differ.
/// </summary>
internal abstract class SseEventFormat
{
    /// <summary>The event's frame in this format. Encode once and share, as the default format does (see <see cref="StoredEvent.AlternateFrame"/>).</summary>
    public abstract ReadOnlyMemory<byte> Frame(StoredEvent e);

    /// <summary>What a heartbeat is in this format.</summary>
    public abstract ReadOnlyMemory<byte> Heartbeat { get; }

    /// <summary>
    /// True once the terminal event this connection was sent says the stream did not finish (failed, cancelled).
    /// The response is then cut instead of completed: clients that only notice a transport error, such as
    /// OpenAI's SDKs, which skip an error chunk, raise instead of returning a truncated answer as a result.
    /// </summary>
    public virtual bool CutAfterTerminal => false;
}
