namespace Sluice.Streams;

/// <summary>The event types of API.md section 2; custom types start with <c>x-</c>.</summary>
internal static class EventTypes
{
    public const string Token = "token";
    public const string Tool = "tool";
    public const string Citation = "citation";
    public const string Done = "done";
    public const string Error = "error";
    public const string Heartbeat = "heartbeat";
    public const string SafeResponse = "safe_response";

    /// <summary>
    /// Written by a store, never published (it is not a valid type): the store came back with less than it had
    /// acknowledged, so the stream ends here rather than hand out those ids again. It is sent as an id-less
    /// <c>error</c> <c>{"code":"store_lost_events","retryable":false}</c> (API.md section 9).
    /// </summary>
    public const string StoreLostEvents = "!store_lost_events";

    /// <summary>Custom types: <c>x-</c> followed by 1..62 of <c>[a-z0-9._-]</c> (no CR, LF or NUL can pass).</summary>
    public static bool IsValid(string? type)
    {
        if (type is null)
        {
            return false;
        }

        switch (type)
        {
            case Token or Tool or Citation or Done or Error or Heartbeat or SafeResponse:
                return true;
        }

        if (type.Length is < 3 or > 64 || !type.StartsWith("x-", StringComparison.Ordinal))
        {
            return false;
        }

        foreach (var c in type.AsSpan(2))
        {
            if (!(char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '.' or '_' or '-'))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary><c>done</c>, <c>error</c> and <c>safe_response</c> close the stream (and a store's <see cref="StoreLostEvents"/>).</summary>
    public static bool IsTerminal(string type) => type is Done or Error or SafeResponse or StoreLostEvents;
}
