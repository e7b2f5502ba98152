using System.ComponentModel.DataAnnotations;
using System.Text.Json;
using Sluice.Cluster;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using ProblemResult = Sluice.Http.Problems.Problem.ProblemResult;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;
using Sluice.Http.Auth;
using Sluice.Http.Problems;
using Sluice.Http.Requests;
using Sluice.Protection;
using Sluice.Http.Documentation;

namespace Sluice.Http.Admin;

/// <summary>API.md section 7, the protection levers: emergency rate limit, endpoint circuit breaker, runtime limits.</summary>
internal static partial class AdminApi
{
    private static readonly string[] Unsheddable = ["/v1/admin", "/health", "/metrics"];

    internal static void MapProtection(RouteGroupBuilder group)
    {
        group.MapPost("/rate-limit/emergency", SetEmergencyAsync).AcceptsJson<EmergencyRequest>().ProducesProblems(400);
        group.MapDelete("/rate-limit/emergency", LiftEmergencyAsync);
        group.MapGet("/rate-limit/emergency", GetEmergency);
        group.MapPost("/circuit-breaker", CircuitBreakerAsync).AcceptsJson<CircuitBreakerRequest>().ProducesProblems(400);
        group.MapGet("/circuit-breaker", (RuntimeControls c) => TypedResults.Ok(new ShedView(c.ShedEndpoints)));
        group.MapPut("/limits", SetLimitsAsync).AcceptsJson<LimitsRequest>().ProducesProblems(400);
        group.MapGet("/limits", (RuntimeControls c) => TypedResults.Ok(LimitsView.From(c)));
    }

    internal static async Task<Results<Ok<EmergencyView>, ProblemResult>> SetEmergencyAsync(HttpContext context, RuntimeControls controls, TimeProvider time, ILoggerFactory loggers, Ops.Auditor auditor, IControlBus bus)
    {
        var (request, problem) = await RequestBody.ReadAsync(context, RequestJsonContext.Default.EmergencyRequest);
        if (problem is not null)
        {
            return problem;
        }

        var limit = new EmergencyRateLimit(request!.RequestsPerMinute!.Value, request.Burst!.Value, time.GetUtcNow());
        var before = EmergencyView.From(controls.Emergency);
        controls.SetEmergency(limit);
        await bus.PublishAsync(ControlKinds.Emergency, JsonSerializer.Serialize(limit, Storage.StoreJson.Default.EmergencyRateLimit), context.RequestAborted);
        LogEmergency(loggers.CreateLogger(typeof(AdminApi).FullName!), limit.RequestsPerMinute, limit.Burst, context.GetCaller().KeyId);
        await auditor.RecordAsync(context, "rate_limit.emergency.set", "node", request.Reason, before, EmergencyView.From(limit));
        return TypedResults.Ok(EmergencyView.From(limit));
    }

    internal static async Task<Ok<EmergencyView>> LiftEmergencyAsync(HttpContext context, RuntimeControls controls, ILoggerFactory loggers, Ops.Auditor auditor, IControlBus bus)
    {
        var before = EmergencyView.From(controls.Emergency);
        controls.SetEmergency(null);
        await bus.PublishAsync(ControlKinds.Emergency, "", context.RequestAborted);
        LogEmergencyLifted(loggers.CreateLogger(typeof(AdminApi).FullName!), context.GetCaller().KeyId);
        await auditor.RecordAsync(context, "rate_limit.emergency.lift", "node", null, before, EmergencyView.From(null));
        return TypedResults.Ok(EmergencyView.From(null));
    }

    internal static Ok<EmergencyView> GetEmergency(RuntimeControls controls) => TypedResults.Ok(EmergencyView.From(controls.Emergency));

    internal static async Task<Results<Ok<ShedView>, ProblemResult>> CircuitBreakerAsync(HttpContext context, RuntimeControls controls, ILoggerFactory loggers, Ops.Auditor auditor, IControlBus bus)
    {
        var (request, problem) = await RequestBody.ReadAsync(context, RequestJsonContext.Default.CircuitBreakerRequest);
        if (problem is not null)
        {
            return problem;
        }

        if (request?.Action is not ("enable" or "disable") || request.Endpoints is not { Length: > 0 and <= 64 } endpoints)
        {
            return Problem.BadRequest(ProblemCodes.InvalidRequest, "The body must be {\"endpoints\":[\"/v1/...\"],\"action\":\"enable|disable\"} with 1 to 64 endpoints.");
        }

        foreach (var endpoint in endpoints)
        {
            if (endpoint is not { Length: > 4 and <= 256 } || !endpoint.StartsWith("/v1/", StringComparison.Ordinal) || endpoint.Any(char.IsWhiteSpace)
                || Unsheddable.Any(u => endpoint.StartsWith(u, StringComparison.OrdinalIgnoreCase)))
            {
                return Problem.BadRequest(ProblemCodes.InvalidRequest, $"'{endpoint}' cannot be shed: give a path under /v1/ other than /v1/admin.");
            }
        }

        var before = new ShedView(controls.ShedEndpoints);
        var shed = controls.Shed(endpoints, request.Action == "enable");
        await bus.PublishAsync(ControlKinds.Shed, JsonSerializer.Serialize(shed.ToArray(), Storage.StoreJson.Default.StringArray), context.RequestAborted);
        LogCircuitBreaker(loggers.CreateLogger(typeof(AdminApi).FullName!), request.Action, string.Join(",", endpoints), context.GetCaller().KeyId);
        await auditor.RecordAsync(context, "circuit_breaker." + request.Action, string.Join(",", endpoints), request.Reason, before, new ShedView(shed));
        return TypedResults.Ok(new ShedView(shed));
    }

    internal static async Task<Results<Ok<LimitsView>, ProblemResult>> SetLimitsAsync(HttpContext context, RuntimeControls controls, ILoggerFactory loggers, Ops.Auditor auditor, IControlBus bus)
    {
        var (request, problem) = await RequestBody.ReadAsync(context, RequestJsonContext.Default.LimitsRequest);
        if (problem is not null)
        {
            return problem;
        }

        if (request!.MaxConcurrentGenerations is null && request.MaxSseConnections is null && request.MaxStreamsPerTenant is null)
        {
            return Problem.BadRequest(ProblemCodes.InvalidRequest, "Give at least one of max_concurrent_generations, max_sse_connections, max_streams_per_tenant.");
        }

        var before = LimitsView.From(controls);
        controls.SetLimits(request.MaxConcurrentGenerations, request.MaxSseConnections, request.MaxStreamsPerTenant);
        await bus.PublishAsync(ControlKinds.Limits, JsonSerializer.Serialize(controls.Overrides, Storage.StoreJson.Default.LimitOverrides), context.RequestAborted);
        var view = LimitsView.From(controls);
        await auditor.RecordAsync(context, "limits.set", "node", request.Reason, before, view);
        LogLimits(loggers.CreateLogger(typeof(AdminApi).FullName!), view.MaxConcurrentGenerations, view.MaxSseConnections, view.MaxStreamsPerTenant, context.GetCaller().KeyId);
        return TypedResults.Ok(view);
    }

    [LoggerMessage(EventId = 7003, Level = LogLevel.Warning, Message = "Emergency rate limit set: {RequestsPerMinute}/min, burst {Burst}, by {ActorKeyId}")]
    private static partial void LogEmergency(ILogger logger, int requestsPerMinute, int burst, string actorKeyId);

    [LoggerMessage(EventId = 7004, Level = LogLevel.Warning, Message = "Emergency rate limit lifted by {ActorKeyId}")]
    private static partial void LogEmergencyLifted(ILogger logger, string actorKeyId);

    [LoggerMessage(EventId = 7005, Level = LogLevel.Warning, Message = "Endpoint circuit breaker {Action} for {Endpoints} by {ActorKeyId}")]
    private static partial void LogCircuitBreaker(ILogger logger, string action, string endpoints, string actorKeyId);

    [LoggerMessage(EventId = 7006, Level = LogLevel.Warning, Message = "Runtime limits: generations {MaxConcurrentGenerations}, SSE {MaxSseConnections}, streams per tenant {MaxStreamsPerTenant}, by {ActorKeyId}")]
    private static partial void LogLimits(ILogger logger, int maxConcurrentGenerations, int maxSseConnections, int maxStreamsPerTenant, string actorKeyId);

    internal sealed record EmergencyRequest(
        [property: Required, Range(1, 1_000_000)] int? RequestsPerMinute,
        [property: Required, Range(1, 1_000_000)] int? Burst,
        [property: MaxLength(Ops.Auditor.MaxReasonLength)] string? Reason) : Requests.IAnnotatedBody;

    internal sealed record EmergencyView(bool Active, int? RequestsPerMinute, int? Burst, DateTimeOffset? Since)
    {
        public static EmergencyView From(EmergencyRateLimit? l) => new(l is not null, l?.RequestsPerMinute, l?.Burst, l?.Since);
    }

    internal sealed record CircuitBreakerRequest(string[]? Endpoints, string? Action, [property: MaxLength(Ops.Auditor.MaxReasonLength)] string? Reason) : Requests.IAnnotatedBody;

    internal sealed record ShedView(IReadOnlyList<string> Shed);

    internal sealed record LimitsRequest(
        [property: Range(1, 4096)] int? MaxConcurrentGenerations,
        [property: Range(1, 1_000_000)] int? MaxSseConnections,
        [property: Range(1, 1_000_000)] int? MaxStreamsPerTenant,
        [property: MaxLength(Ops.Auditor.MaxReasonLength)] string? Reason) : Requests.IAnnotatedBody;

    internal sealed record LimitsView(int MaxConcurrentGenerations, int MaxSseConnections, int MaxStreamsPerTenant)
    {
        public static LimitsView From(RuntimeControls c) => new(c.MaxConcurrentGenerations, c.MaxSseConnections, c.MaxStreamsPerTenant);
    }
}
