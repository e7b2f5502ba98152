using System.Diagnostics;
using Sluice.Diagnostics;
using GenAi = Sluice.Diagnostics.SluiceTracing.GenAi;

namespace Sluice.Generations;

/// <summary>
/// A generation's span (OpenTelemetry GenAI conventions): from admission, so queue time shows, to its end, with what
/// the caller asked for, what answered, the usage and how it ended; the first token is an event on it. It is a child
/// of the request that created the generation (the caller's <c>traceparent</c> continues), and the provider spans of
/// <c>UseOpenTelemetry()</c> are its children. Never a prompt or an output: those are the provider span's to record,
/// and only with <c>Sluice:Telemetry:RecordContent</c>. Every member is a no-op when nothing listens.
/// </summary>
internal static class GenerationSpan
{
    public static Activity? Start(GenerationJob job, TimeProvider time)
    {
        var source = SluiceTracing.Source;
        if (!source.HasListeners())
        {
            return null;
        }

        var admittedAt = time.GetUtcNow() - time.GetElapsedTime(job.AdmittedTimestamp);
        var activity = source.StartActivity("generation " + job.Route.Name, ActivityKind.Internal, job.TraceParent, startTime: admittedAt);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag(GenAi.OperationName, "chat");
            activity.SetTag(GenAi.RequestModel, job.Route.Name);
            activity.SetTag("sluice.generation.id", job.Id);
            activity.SetTag("sluice.tenant", job.Record.Tenant);
            if (job.Request.MaxTokens is { } max)
            {
                activity.SetTag(GenAi.RequestMaxTokens, max);
            }
        }

        return activity;
    }

    /// <summary>The run threw (a bug, not the provider: provider failures end through <see cref="End"/>).</summary>
    public static void Failed(Activity? activity, Exception exception)
    {
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag(GenAi.ErrorType, exception.GetType().FullName);
            activity.SetStatus(ActivityStatusCode.Error, "internal");
        }

        activity?.Dispose();
    }

    public static void End(Activity? activity, GenerationRecord record, GenerationEnding ending, GenerationFacts facts)
    {
        if (activity is not { IsAllDataRequested: true })
        {
            activity?.Dispose();
            return;
        }

        if (facts.Used is { } target)
        {
            var system = target.ProviderType == ProviderTarget.SimulatedType ? "sluice.simulated" : target.ProviderType;
            activity.SetTag(GenAi.ProviderName, system);
            activity.SetTag(GenAi.System, system);
            activity.SetTag(GenAi.ResponseModel, target.Model);
            activity.SetTag("sluice.provider", target.Provider);
        }

        activity.SetTag(GenAi.InputTokens, facts.InputTokens);
        activity.SetTag(GenAi.OutputTokens, facts.OutputTokens);
        activity.SetTag("sluice.generation.status", record.Status.ToString().ToLowerInvariant());
        if (ending.FinishReason is { } finish)
        {
            activity.SetTag(GenAi.FinishReasons, new[] { finish });
        }

        if (facts.TtftMs is { } ttft)
        {
            activity.SetTag(GenAi.TimeToFirstChunk, ttft / 1000.0);
            activity.AddEvent(new ActivityEvent(GenAi.FirstTokenEvent, activity.StartTimeUtc.AddMilliseconds(ttft),
                new ActivityTagsCollection { [GenAi.TimeToFirstChunk] = ttft / 1000.0 }));
        }

        if (ending.ErrorCode is { } code)
        {
            activity.SetTag(GenAi.ErrorType, code);
            activity.SetStatus(ActivityStatusCode.Error, code);
        }
        else if (ending.Status == GenerationStatus.Cancelled)
        {
            activity.SetTag(GenAi.ErrorType, "cancelled");
        }

        activity.Dispose();
    }
}
