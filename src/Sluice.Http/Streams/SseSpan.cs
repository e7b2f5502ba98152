using System.Diagnostics;
using Microsoft.AspNetCore.Http;
using Sluice.Diagnostics;
using Sluice.Streams;

namespace Sluice.Http.Streams;

/// <summary>
/// An SSE connection is one span, the request's own server span, tagged with how it resumed and why it ended: a span
/// per event would cost more than the event. Only while tracing is on (Sluice's source has a listener).
/// </summary>
internal static class SseSpan
{
    public static Activity? Of(HttpContext context) =>
        SluiceTracing.Source.HasListeners() && context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpActivityFeature>()?.Activity is { IsAllDataRequested: true } activity
            ? activity
            : null;

    public static void Resumed(Activity? span, ResumePlan plan, bool resuming)
    {
        if (span is null)
        {
            return;
        }

        span.SetTag("sluice.sse.resume", plan.Kind switch
        {
            ResumeKind.NotFound => "not_found",
            ResumeKind.NoContent => "complete",
            ResumeKind.Truncated => "history_truncated",
            ResumeKind.Ahead => "event_id_ahead",
            _ => resuming ? "resumed" : "fresh",
        });
        if (resuming)
        {
            span.SetTag("sluice.sse.resume_after", plan.StartAfter);
        }
    }

    public static void Ended(Activity? span, string reason) => span?.SetTag("sluice.sse.end", reason);
}
