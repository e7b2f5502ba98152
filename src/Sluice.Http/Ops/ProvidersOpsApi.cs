using Microsoft.Extensions.Options;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using ProblemResult = Sluice.Http.Problems.Problem.ProblemResult;
using Microsoft.AspNetCore.Routing;
using Sluice.Configuration;
using Sluice.Generations;
using Sluice.Http.Auth;
using Sluice.Http.Problems;
using Sluice.Resilience;

using Sluice.Http.Requests;
using Sluice.Http.Documentation;

namespace Sluice.Http.Ops;

/// <summary>API.md section 6: provider health and the kill-switch (role admin; the kill-switch needs <c>Idempotency-Key</c>).</summary>
internal static class ProvidersOpsApi
{
    public static IEndpointRouteBuilder MapProvidersOpsApi(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("/v1/ops/llm/providers").RequireAuthorization(SluicePolicies.Admin).WithTags("Operations");
        group.MapGet("/health", Health);
        group.MapPost("/{provider}/kill-switch", KillSwitchAsync).WithIdempotencyKey(required: true)
            .AcceptsJson<KillRequest>().Produces<HealthView>().ProducesProblems(400, 404, 409, 422);
        return endpoints;
    }

    internal static Ok<HealthList> Health(IModelCatalog catalog, ProviderResilience resilience, bool? verbose) =>
        TypedResults.Ok(new HealthList([.. catalog.Providers.Select(p => HealthView.From(resilience.StateOf(p), verbose == true, catalog))]));

    internal static async Task<Results<OpsIdempotency.Replay, ProblemResult>> KillSwitchAsync(string provider, HttpContext context, IModelCatalog catalog, ProviderResilience resilience, OpsIdempotency idempotency, Auditor auditor, Sluice.Ops.TraceRecorder traces)
    {
        var body = await RequestBody.ReadBytesAsync(context);
        return await idempotency.RunAsync(context, body, async () =>
        {
            if (!catalog.Providers.Contains(provider, StringComparer.Ordinal))
            {
                return Problem.NotFound("The provider");
            }

            var (request, error) = RequestBody.Parse(body, RequestJsonContext.Default.KillRequest);
            if (error is not null)
            {
                return Problem.BadRequest(error);
            }

            if (request?.Action is not ("enable" or "disable"))
            {
                return Problem.BadRequest(ProblemCodes.InvalidRequest, "action must be enable or disable.");
            }

            var before = resilience.StateOf(provider);
            if (request.Action == "enable")
            {
                if (request.EffectiveSeconds is not (>= 1 and <= 604_800))
                {
                    return Problem.BadRequest(ProblemCodes.InvalidRequest, "effective_seconds must be from 1 to 604800 (7 days): a kill-switch always expires.");
                }

                await resilience.KillAsync(provider, TimeSpan.FromSeconds(request.EffectiveSeconds.Value), request.Reason, context.GetCaller().KeyId, CancellationToken.None);
            }
            else
            {
                await resilience.ReviveAsync(provider, CancellationToken.None);
            }

            var after = resilience.StateOf(provider);
            await traces.RecordAsync(request.Action == "enable" ? "kill_switch_enabled" : "kill_switch_disabled",
                context.Features.Get<Diagnostics.TraceIdFeature>()?.TraceId, null, null,
                $"{provider}: {request.Action}d by {context.GetCaller().KeyId}" + (request.EffectiveSeconds is { } sec && request.Action == "enable" ? $" for {sec} s" : "") + (request.Reason is { } r ? ": " + r : ""));
            await auditor.RecordAsync(context, request.Action == "enable" ? "kill_switch_enabled" : "kill_switch_disabled", "provider:" + provider, request.Reason,
                HealthView.From(before, false, catalog), HealthView.From(after, false, catalog));
            return TypedResults.Ok(HealthView.From(after, false, catalog));
        });
    }

    internal sealed record KillRequest(string? Action, [property: System.ComponentModel.DataAnnotations.MaxLength(Auditor.MaxReasonLength)] string? Reason, int? EffectiveSeconds)
        : Requests.IAnnotatedBody;

    internal sealed record HealthList(HealthView[] Providers);

    internal sealed record KillView(bool Enabled, DateTimeOffset ExpiresAt, string? Reason);

    internal sealed record HealthView(
        string Provider, string State, string CircuitState, double? SuccessRate, double? P95TtftMs, int Attempts5m, int Failures5m, KillView? KillSwitch, string[]? Models)
    {
        public static HealthView From(ProviderState s, bool verbose, IModelCatalog catalog) => new(
            s.Provider, s.State, s.Circuit, s.Health.SuccessRate is { } r ? Math.Round(r, 4) : null, s.Health.P95TtftMs is { } p ? Math.Round(p, 1) : null,
            s.Health.Attempts, s.Health.Failures, s.KillSwitch is { } k ? new KillView(true, k.ExpiresAt, k.Reason) : null,
            verbose ? [.. catalog.List().Where(m => m.Chain.Count == 1 && m.Chain[0].Provider == s.Provider).Select(m => m.Name)] : null);
    }
}

/// <summary>
/// API.md section 6: every mutating ops call needs <c>Idempotency-Key</c>; the same key again replays the first
/// response with no second effect (marked <c>Idempotent-Replayed: true</c>), the same key with another body is
/// refused (422), and the same key while its first call still runs is told so (409 with <c>Retry-After</c>).
/// Keys live in the store for <c>Sluice:Generations:IdempotencyWindow</c>, scoped to the caller's key and route.
/// </summary>
internal sealed class OpsIdempotency(Sluice.Ops.IOpsIdempotencyStore store, TimeProvider time, IOptionsMonitor<SluiceOptions> options)
{
    public const string ReplayedHeader = "Idempotent-Replayed";

    /// <summary>An unfinished claim older than this belongs to a call whose node died; the same request may run again.</summary>
    private static readonly TimeSpan PendingLease = TimeSpan.FromMinutes(1);

    public async Task<Results<Replay, ProblemResult>> RunAsync(HttpContext context, byte[] body, Func<Task<IResult>> action)
    {
        var key = context.IdempotencyKey() ?? throw new InvalidOperationException("WithIdempotencyKey(required: true) lets no request through without a key.");

        // The tenant an admin acts on is part of the request: the same key and body for another tenant is another call.
        var hash = Generations.GenerationsApi.Hash(body) + "|" + context.Request.Headers[SluiceCallerExtensions.TenantHeader].ToString();
        var scope = context.GetCaller().KeyId + "|" + RouteOf(context) + "|" + key;
        var now = time.GetUtcNow();
        var claim = await store.ClaimAsync(scope, hash, now, now - options.CurrentValue.Generations.IdempotencyWindow, now - PendingLease, context.RequestAborted);
        switch (claim.Outcome)
        {
            case Sluice.Ops.OpsIdempotencyOutcome.Conflict:
                return Problem.Result(StatusCodes.Status422UnprocessableEntity, ProblemCodes.IdempotencyKeyReused, "The Idempotency-Key was reused.",
                    "This Idempotency-Key was used with another request body.");
            case Sluice.Ops.OpsIdempotencyOutcome.InProgress:
                context.Response.Headers.RetryAfter = "1";
                return Problem.Result(StatusCodes.Status409Conflict, ProblemCodes.IdempotencyKeyInProgress, "A request with this Idempotency-Key is still running.",
                    "Retry after a second to get its response.");
            case Sluice.Ops.OpsIdempotencyOutcome.Completed:
                context.Response.Headers[ReplayedHeader] = "true";
                return new Replay(claim.Response!);
        }

        Sluice.Ops.OpsStoredResponse stored;
        try
        {
            stored = await ExecuteAsync(context, action);
        }
        catch
        {
            // Nothing to replay: the next call with this key runs again.
            await store.ReleaseAsync(scope, CancellationToken.None);
            throw;
        }

        if (stored.Status >= 500)
        {
            await store.ReleaseAsync(scope, CancellationToken.None);
        }
        else
        {
            // The effect has happened: record it even if the caller has gone.
            await store.CompleteAsync(scope, stored, CancellationToken.None);
        }

        return new Replay(stored);
    }

    /// <summary>
    /// The matched route and its values, not the raw path: routing matches paths case-insensitively, so
    /// <c>/V1/OPS/...</c> reaches the same handler and must meet the same keys.
    /// </summary>
    private static string RouteOf(HttpContext context)
    {
        var pattern = (context.GetEndpoint() as RouteEndpoint)?.RoutePattern;
        if (pattern is null)
        {
            return context.Request.Path.Value!.ToLowerInvariant();
        }

        var route = new System.Text.StringBuilder(pattern.RawText);
        foreach (var parameter in pattern.Parameters)
        {
            route.Append('|').Append(context.Request.RouteValues[parameter.Name]);
        }

        return route.ToString();
    }

    private static async Task<Sluice.Ops.OpsStoredResponse> ExecuteAsync(HttpContext context, Func<Task<IResult>> action)
    {
        // Run the action into a buffer, so the first response can be replayed byte for byte.
        var original = context.Response.Body;
        using var buffer = new MemoryStream();
        context.Response.Body = buffer;
        try
        {
            await (await action()).ExecuteAsync(context);
        }
        finally
        {
            context.Response.Body = original;
        }

        return new Sluice.Ops.OpsStoredResponse(context.Response.StatusCode, context.Response.ContentType, buffer.ToArray());
    }

    /// <summary>The stored answer of an ops call, written again byte for byte on a replay.</summary>
    internal sealed class Replay(Sluice.Ops.OpsStoredResponse stored) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.StatusCode = stored.Status;
            httpContext.Response.ContentType = stored.ContentType;
            return httpContext.Response.Body.WriteAsync(stored.Body).AsTask();
        }
    }
}
