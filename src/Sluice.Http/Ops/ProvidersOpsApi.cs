using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Sluice.Generations;
using Sluice.Http.Auth;
using Sluice.Http.Problems;
using Sluice.Resilience;

namespace Sluice.Http.Ops;

/// <summary>API.md section 6: provider health and the kill-switch (role admin; the kill-switch needs <c>Idempotency-Key</c>).</summary>
internal static class ProvidersOpsApi
{
    public static IEndpointRouteBuilder MapProvidersOpsApi(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("/v1/ops/llm/providers").RequireAuthorization(SluicePolicies.Admin);
        group.MapGet("/health", Health);
        group.MapPost("/{provider}/kill-switch", KillSwitchAsync);
        return endpoints;
    }

    internal static IResult Health(IModelCatalog catalog, ProviderResilience resilience, bool? verbose) =>
        TypedResults.Ok(new HealthList([.. catalog.Providers.Select(p => HealthView.From(resilience.StateOf(p), verbose == true, catalog))]));

    internal static async Task<IResult> KillSwitchAsync(string provider, HttpContext context, IModelCatalog catalog, ProviderResilience resilience, OpsIdempotency idempotency, Auditor auditor, Sluice.Ops.TraceRecorder traces)
    {
        var body = await Generations.GenerationsApi.ReadBodyAsync(context);
        return await idempotency.RunAsync(context, body, async () =>
        {
            if (!catalog.Providers.Contains(provider, StringComparer.Ordinal))
            {
                return Problem.NotFound("The provider");
            }

            KillRequest? request;
            try
            {
                request = JsonSerializer.Deserialize<KillRequest>(body, OpsJson.Options);
            }
            catch (JsonException ex)
            {
                return Problem.BadRequest(ProblemCodes.InvalidJson, "The body is not valid JSON: " + ex.Message);
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

                resilience.Kill(provider, TimeSpan.FromSeconds(request.EffectiveSeconds.Value), request.Reason, context.GetCaller().KeyId);
            }
            else
            {
                resilience.Revive(provider);
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

    internal sealed record KillRequest(string? Action, string? Reason, int? EffectiveSeconds);

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

internal static class OpsJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web) { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };
}

/// <summary>
/// API.md section 6: every mutating ops call needs <c>Idempotency-Key</c>; the same key again replays the first
/// response with no second effect, and the same key with another body is refused (422). Node-local and
/// in memory for 24 h (bounded); the store-backed version comes with cluster mode.
/// </summary>
internal sealed class OpsIdempotency(TimeProvider time)
{
    private const int MaxKeys = 10_000;
    private readonly ConcurrentDictionary<string, Entry> _responses = new(StringComparer.Ordinal);

    public async Task<IResult> RunAsync(HttpContext context, byte[] body, Func<Task<IResult>> action)
    {
        var key = context.Request.Headers[Generations.GenerationsApi.IdempotencyKeyHeader].ToString();
        if (key.Length is 0 or > 255 || key.Any(c => c is < '!' or > '~'))
        {
            return Problem.BadRequest("idempotency_key_required", "Mutating ops calls need an Idempotency-Key header of 1 to 255 visible ASCII characters.");
        }

        var hash = Generations.GenerationsApi.Hash(body);
        var scope = context.GetCaller().KeyId + "|" + context.Request.Path + "|" + key;
        Trim();
        var mine = new Entry(time.GetUtcNow());
        var entry = _responses.GetOrAdd(scope, mine);
        if (entry == mine)
        {
            try
            {
                mine.Response.SetResult(await ExecuteAsync(context, hash, action));
            }
            catch (Exception ex)
            {
                // Nothing to replay: the next call with this key runs again.
                _responses.TryRemove(scope, out _);
                mine.Response.SetException(ex);
                throw;
            }
        }

        var stored = await entry.Response.Task;
        if (stored.Hash != hash)
        {
            return Problem.Result(StatusCodes.Status422UnprocessableEntity, "idempotency_key_reused", "The Idempotency-Key was reused.",
                "This Idempotency-Key was used with another request body.");
        }

        return new Replay(stored);
    }

    private static async Task<Stored> ExecuteAsync(HttpContext context, string hash, Func<Task<IResult>> action)
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

        return new Stored(hash, context.Response.StatusCode, context.Response.ContentType, buffer.ToArray());
    }

    private void Trim()
    {
        if (_responses.Count < MaxKeys)
        {
            return;
        }

        var cutoff = time.GetUtcNow().AddHours(-24);
        foreach (var (scope, entry) in _responses)
        {
            if (entry.At < cutoff || _responses.Count >= MaxKeys)
            {
                _responses.TryRemove(scope, out _);
            }
        }
    }

    private sealed class Entry(DateTimeOffset at)
    {
        public DateTimeOffset At { get; } = at;

        public TaskCompletionSource<Stored> Response { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed record Stored(string Hash, int Status, string? ContentType, byte[] Body);

    private sealed class Replay(Stored stored) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.StatusCode = stored.Status;
            httpContext.Response.ContentType = stored.ContentType;
            return httpContext.Response.Body.WriteAsync(stored.Body).AsTask();
        }
    }
}
