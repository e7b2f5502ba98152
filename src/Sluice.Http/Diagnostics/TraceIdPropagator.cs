using System.Diagnostics;

namespace Sluice.Http.Diagnostics;

/// <summary>
/// W3C propagation, plus API.md section 11's rule that without a <c>traceparent</c> an <c>X-Trace-Id</c> of 32 hex
/// digits becomes the trace id. ASP.NET Core asks the registered propagator for the remote parent before it creates a
/// request's span; a parent made up from the header would name a span id no backend ever receives, so the id is handed
/// to <see cref="Activity.TraceIdGenerator"/> instead and the server span stays a true root. The hand-over is
/// thread-static: hosting creates the span on the thread that extracted, right after; every extraction overwrites it and
/// the generator takes it once, so it cannot leak into another request's span.
/// </summary>
internal sealed class TraceIdPropagator : DistributedContextPropagator
{
    [ThreadStatic]
    private static ActivityTraceId? t_pending;

    private static readonly Func<ActivityTraceId> Generator = static () =>
    {
        var pending = t_pending;
        t_pending = null;
        return pending ?? ActivityTraceId.CreateRandom();
    };

    private readonly DistributedContextPropagator _inner;

    public TraceIdPropagator(DistributedContextPropagator inner)
    {
        _inner = inner;
        Fields = [.. inner.Fields, TraceIdMiddleware.Header];
    }

    public override IReadOnlyCollection<string> Fields { get; }

    /// <summary>Makes the process's root spans take an id the propagator handed over. Once, at start.</summary>
    public static void InstallGenerator() => Activity.TraceIdGenerator = Generator;

    /// <summary>32 hex digits, not all zero (W3C's invalid id), as a trace id; otherwise null.</summary>
    public static ActivityTraceId? AsTraceId(string value)
    {
        if (value.Length != 32 || value.AsSpan().ContainsAnyExcept("0123456789abcdefABCDEF") || !value.AsSpan().ContainsAnyExcept('0'))
        {
            return null;
        }

        return ActivityTraceId.CreateFromString(value.ToLowerInvariant());
    }

    public override void Inject(Activity? activity, object? carrier, PropagatorSetterCallback? setter) =>
        _inner.Inject(activity, carrier, setter);

    public override void ExtractTraceIdAndState(object? carrier, PropagatorGetterCallback? getter, out string? traceId, out string? traceState)
    {
        _inner.ExtractTraceIdAndState(carrier, getter, out traceId, out traceState);
        t_pending = null;
        // A traceparent hosting cannot parse makes a root span, as if there were none: then X-Trace-Id may name it.
        if ((traceId is null || !ActivityContext.TryParse(traceId, traceState, out _)) && getter is not null)
        {
            getter(carrier, TraceIdMiddleware.Header, out var value, out _);
            if (value is not null && AsTraceId(value) is { } id)
            {
                t_pending = id;
            }
        }
    }

    public override IEnumerable<KeyValuePair<string, string?>>? ExtractBaggage(object? carrier, PropagatorGetterCallback? getter) =>
        _inner.ExtractBaggage(carrier, getter);
}
