namespace Sluice.Http.Diagnostics;

/// <summary>The request's trace id: from <c>X-Trace-Id</c>, else W3C <c>traceparent</c>, else generated.</summary>
internal sealed record TraceIdFeature(string TraceId);
