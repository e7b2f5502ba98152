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
    public const string GenerationFinished = "generation_finished";
    public const string InvalidIdempotencyKey = "invalid_idempotency_key";
    public const string IdempotencyKeyInProgress = "idempotency_key_in_progress";
    public const string IdempotencyKeyRequired = "idempotency_key_required";
    public const string InvalidMessages = "invalid_messages";
    public const string InvalidPrompt = "invalid_prompt";
    public const string EmptyMessages = "empty_messages";
    public const string InvalidResponseContract = "invalid_response_contract";
    public const string InvalidSimulate = "invalid_simulate";
    public const string EndpointShed = "endpoint_shed";
    public const string RateLimited = "rate_limited";
    public const string QuotaExceeded = "quota_exceeded";
    public const string CredentialRevoked = "credential_revoked";
    public const string CredentialExpired = "credential_expired";
    public const string StoreUnavailable = "store_unavailable";

    // Decided by Core when a generation is created; listed here so every code a client can see is in one place.
    public const string IdempotencyKeyReused = Sluice.Errors.ErrorCodes.IdempotencyKeyReused;
    public const string MissingPromptVariable = Sluice.Errors.ErrorCodes.MissingPromptVariable;
    public const string PromptTooLong = Sluice.Errors.ErrorCodes.PromptTooLong;
    public const string SimulateNotSupported = Sluice.Errors.ErrorCodes.SimulateNotSupported;
    public const string UnknownModel = Sluice.Errors.ErrorCodes.UnknownModel;
    public const string UnknownPrompt = Sluice.Errors.ErrorCodes.UnknownPrompt;
    public const string UnknownPromptVersion = Sluice.Errors.ErrorCodes.UnknownPromptVersion;
}
