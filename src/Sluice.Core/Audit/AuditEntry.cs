namespace Sluice.Audit;

/// <summary>
/// One recorded operator action (API.md sections 6 and 7): who (the acting key), when, what on which
/// target, why, the request's trace id, and the state before and after as compact JSON.
/// </summary>
internal sealed record AuditEntry(
    long Id,
    DateTimeOffset At,
    string ActorKeyId,
    string ActorTenant,
    string Action,
    string Target,
    string? Reason,
    string? TraceId,
    string? BeforeJson,
    string? AfterJson);
