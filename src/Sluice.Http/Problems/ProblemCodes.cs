namespace Sluice.Http.Problems;

/// <summary>Stable error codes: clients switch on these, so they never change meaning.</summary>
internal static class ProblemCodes
{
    public const string Unauthorized = "unauthorized";

    public const string TooManyFailedAuthentications = "too_many_failed_authentications";
    public const string Forbidden = "forbidden";
    public const string TenantMismatch = "tenant_mismatch";
    public const string NotFound = "not_found";
    public const string InvalidJson = "invalid_json";
    public const string InvalidRequest = "invalid_request";
    public const string InvalidStreamId = "invalid_stream_id";
    public const string InvalidEventType = "invalid_event_type";
    public const string InvalidEventData = "invalid_event_data";
    public const string EventTooLarge = "event_too_large";
    public const string BodyTooLarge = "body_too_large";
    public const string InvalidLastEventId = "invalid_last_event_id";
    public const string StreamClosed = "stream_closed";
    public const string Overloaded = "overloaded";
    public const string Internal = "internal";
}
