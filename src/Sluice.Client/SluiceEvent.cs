using System.Text.Json;

namespace Sluice.Client;

/// <summary>
/// One event of a Sluice stream (API.md sections 2–4). <see cref="Id"/> is null for the server's id-less signals
/// (<see cref="HistoryTruncatedEvent"/>, <see cref="EventIdAheadEvent"/>, an id-less <see cref="ErrorEvent"/>).
/// </summary>
public abstract class SluiceEvent
{
    private protected SluiceEvent(long? id, string type)
    {
        Id = id;
        Type = type;
    }

    /// <summary>The event's id, strictly increasing per stream; null for id-less signals.</summary>
    public long? Id { get; }

    /// <summary>The SSE event type (<c>token</c>, <c>done</c>, <c>x-...</c>).</summary>
    public string Type { get; }

    /// <summary>The event's <c>data:</c> as the server sent it (JSON), for logging or passing on unchanged.</summary>
    public string RawData { get; internal set; } = "{}";

    /// <summary>True for <c>done</c>, a stored <c>error</c> and <c>safe_response</c>: the stream ends after it.</summary>
    public bool IsTerminal => Id is not null && Type is "done" or "error" or "safe_response";
}

/// <summary>A piece of output text.</summary>
public sealed class TokenEvent(long id, string text) : SluiceEvent(id, "token")
{
    /// <summary>The text, to be appended to what came before.</summary>
    public string Text { get; } = text;
}

/// <summary>A tool call the model made.</summary>
public sealed class ToolEvent(long id, string callId, string name, JsonElement arguments) : SluiceEvent(id, "tool")
{
    /// <summary>The call's id.</summary>
    public string CallId { get; } = callId;

    /// <summary>The tool's name.</summary>
    public string Name { get; } = name;

    /// <summary>The arguments as the model gave them.</summary>
    public JsonElement Arguments { get; } = arguments;
}

/// <summary>A source the output cites.</summary>
public sealed class CitationEvent(long id, JsonElement data) : SluiceEvent(id, "citation")
{
    /// <summary>The citation (<c>index</c>, <c>source</c>, <c>title</c>, <c>url</c>, <c>quote</c>).</summary>
    public JsonElement Data { get; } = data;
}

/// <summary>The generation finished; <see cref="FinishReason"/> is <c>stop</c>, <c>length</c>, <c>tool_calls</c> or <c>cancelled</c>.</summary>
public sealed class DoneEvent(long id, string? finishReason, long? inputTokens, long? outputTokens, JsonElement data) : SluiceEvent(id, "done")
{
    /// <summary>Why it finished.</summary>
    public string? FinishReason { get; } = finishReason;

    /// <summary>Input tokens, when the provider said.</summary>
    public long? InputTokens { get; } = inputTokens;

    /// <summary>Output tokens, when the provider said.</summary>
    public long? OutputTokens { get; } = outputTokens;

    /// <summary>The whole event data (<c>ttft_ms</c>, <c>e2e_ms</c>, <c>provider</c>, <c>model</c>, ...).</summary>
    public JsonElement Data { get; } = data;
}

/// <summary>An error: stored and terminal when <see cref="SluiceEvent.Id"/> is set, an id-less notice otherwise.</summary>
public sealed class ErrorEvent(long? id, string code, string? message, bool retryable) : SluiceEvent(id, "error")
{
    /// <summary>The stable code (<c>provider_unavailable</c>, <c>worker_lost</c>, ...).</summary>
    public string Code { get; } = code;

    /// <summary>A human-readable message.</summary>
    public string? Message { get; } = message;

    /// <summary>True when running the request again may succeed.</summary>
    public bool Retryable { get; } = retryable;
}

/// <summary>The answer that replaced an output which failed its contract or a content filter (terminal).</summary>
public sealed class SafeResponseEvent(long id, string text, string? reason) : SluiceEvent(id, "safe_response")
{
    /// <summary>The text to show instead.</summary>
    public string Text { get; } = text;

    /// <summary><c>contract_violation</c> or <c>content_filter</c>.</summary>
    public string? Reason { get; } = reason;
}

/// <summary>The resume position was older than the retained history: events continue from <see cref="FirstAvailableId"/>.</summary>
public sealed class HistoryTruncatedEvent(long firstAvailableId) : SluiceEvent(null, "error")
{
    /// <summary>The first event still kept.</summary>
    public long FirstAvailableId { get; } = firstAvailableId;
}

/// <summary>The resume position was beyond the stream's last id (a client from the future): live events follow.</summary>
public sealed class EventIdAheadEvent(long lastId) : SluiceEvent(null, "error")
{
    /// <summary>The stream's last id when the client asked.</summary>
    public long LastId { get; } = lastId;
}

/// <summary>Any other event type (<c>x-...</c>), with its data as sent.</summary>
public sealed class CustomEvent(long? id, string type, JsonElement data) : SluiceEvent(id, type)
{
    /// <summary>The event data.</summary>
    public JsonElement Data { get; } = data;
}
