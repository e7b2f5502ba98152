namespace Sluice.Ops;

/// <summary>
/// A recorded trace event (API.md section 6, <c>GET /v1/ops/traces</c>): what happened (<see cref="Kind"/>, such
/// as <c>sse_resume_failed</c>, <c>provider_timeout</c>, <c>kill_switch_enabled</c>), with the request's trace
/// id, the tenant, the generation if any, and a detail line. Never a key, a token or a prompt.
/// </summary>
internal sealed record TraceEvent(long Id, DateTimeOffset At, string Kind, string? TraceId, string? Tenant, string? GenerationId, string Detail);
