
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using ProblemResult = Sluice.Http.Problems.Problem.ProblemResult;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Options;
using Sluice.Configuration;
using Sluice.Fanout;
using Sluice.Generations;
using Sluice.Http.Auth;
using Sluice.Http.Diagnostics;
using Sluice.Http.OpenAi;
using Sluice.Http.Problems;
using Sluice.Http.Requests;
using Sluice.Http.Streams;
using Sluice.Streams;
using Sluice.Tenancy;
using Sluice.Http.Documentation;

namespace Sluice.Http.Generations;

/// <summary>API.md section 4: create, get, list, cancel and read generations.</summary>
internal static class GenerationsApi
{
    public const string GenerationIdHeader = "X-Sluice-Generation-Id";
    private static readonly TimeSpan EventsTokenTtl = TimeSpan.FromHours(1);

    public static IEndpointRouteBuilder MapGenerationsApi(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("/v1/generations").WithTags("Generations").RequireTenant();
        group.MapPost("/", CreateAsync).RequireAuthorization(SluicePolicies.Generate).WithIdempotencyKey(required: false)
            .AcceptsJson<GenerationBody>().Produces<CreatedView>(StatusCodes.Status202Accepted).ProducesEventStream()
            .ProducesProblems(400, 404, 409, 413, 422);
        group.MapGet("/", ListAsync).RequireAuthorization(SluicePolicies.GenerationRead)
            .ProducesProblems(400);
        group.MapGet("/{id}", GetAsync).RequireAuthorization(SluicePolicies.GenerationRead)
            .ProducesProblems(404);
        group.MapPost("/{id}/cancel", CancelAsync).RequireAuthorization(SluicePolicies.Generate)
            .Produces<CancelView>(StatusCodes.Status202Accepted).ProducesProblems(404, 409);
        group.MapPost("/{id}/tokens", CreateTokenAsync).RequireAuthorization(SluicePolicies.GenerationRead)
            .AcceptsJson<Streams.StreamsApi.TokenRequest>(optional: true).ProducesProblems(400, 404);
        group.MapGet("/{id}/events", EventsAsync).RequireAuthorization(SluicePolicies.GenerationEvents)
            .ProducesEventStream().Produces(StatusCodes.Status204NoContent).ProducesProblems(400, 404);
        endpoints.MapGet("/v1/models", Models).RequireAuthorization(SluicePolicies.Any).WithTags("Generations");
        return endpoints;
    }

    internal static async Task CreateAsync(HttpContext context, GenerationService generations, SseResponder responder, AccessTokenService tokens, IOptionsMonitor<SluiceOptions> options)
    {
        var tenant = context.Tenant();

        var (body, bytes, bodyError) = await RequestBody.ReadWithBytesAsync(context, RequestJsonContext.Default.GenerationBody);
        var (request, error) = body is null ? (null, bodyError) : GenerationRequestReader.Read(body, options.CurrentValue.Generations);
        if (request is null)
        {
            await Problem.BadRequest(error!).ExecuteAsync(context);
            return;
        }

        var key = context.IdempotencyKey();

        var outcome = await generations.CreateAsync(tenant, request, key, Hash(bytes), context.Features.Get<TraceIdFeature>()?.TraceId, context.RequestAborted);
        if (Failure(outcome, options.CurrentValue) is { } failure)
        {
            await failure.ExecuteAsync(context);
            return;
        }

        var record = outcome.Record!;
        context.Response.Headers[GenerationIdHeader] = record.Id;
        if (AcceptsEventStream(context))
        {
            await responder.ServeAsync(context, record.StreamKey, pending: Pending(record));
            return;
        }

        var (token, _) = await tokens.IssueAsync(tenant, AccessTokenService.GenerationResource(record.Id), EventsTokenTtl, context.GetCaller().KeyId, context.RequestAborted);
        var url = $"{context.Request.Scheme}://{context.Request.Host}{context.Request.PathBase}/v1/generations/{record.Id}/events?access_token={Uri.EscapeDataString(token)}";
        context.Response.Headers.Location = $"{context.Request.PathBase}/v1/generations/{record.Id}";
        await TypedResults.Json(new CreatedView(record.Id, record.Status.ToName(), url, record.CreatedAt), statusCode: StatusCodes.Status202Accepted).ExecuteAsync(context);
    }

    /// <summary>A fresh access token for an existing generation: a browser watching a long one refreshes before its token expires.</summary>
    internal static async Task<Results<Ok<Streams.StreamsApi.TokenResponse>, ProblemResult>> CreateTokenAsync(string id, HttpContext context, GenerationService generations, AccessTokenService tokens)
    {
        var tenant = context.Tenant();

        var (ttl, invalid) = await Streams.StreamsApi.ReadTokenTtlAsync(context);
        if (invalid is not null)
        {
            return invalid;
        }

        var record = GenerationIds.IsValid(id) ? await generations.GetAsync(tenant, id, context.RequestAborted) : null;
        if (record is null)
        {
            return Problem.NotFound("The generation");
        }

        var (token, expiresAt) = await tokens.IssueAsync(tenant, AccessTokenService.GenerationResource(record.Id), ttl, context.GetCaller().KeyId, context.RequestAborted);
        var url = $"{context.Request.Scheme}://{context.Request.Host}{context.Request.PathBase}/v1/generations/{record.Id}/events?access_token={Uri.EscapeDataString(token)}";
        return TypedResults.Ok(new Streams.StreamsApi.TokenResponse(token, url, expiresAt));
    }

    internal static async Task<Results<Ok<GenerationView>, ProblemResult>> GetAsync(string id, HttpContext context, GenerationService generations, StreamHub hub)
    {
        var tenant = context.Tenant();

        var record = GenerationIds.IsValid(id) ? await generations.GetAsync(tenant, id, context.RequestAborted) : null;
        if (record is null)
        {
            return Problem.NotFound("The generation");
        }

        var info = record.Status.IsFinished() ? null : await hub.Log.GetInfoAsync(record.StreamKey, context.RequestAborted);
        return TypedResults.Ok(GenerationView.From(record, info?.LastId));
    }

    internal static async Task<Results<Ok<ListView>, ProblemResult>> ListAsync(HttpContext context, GenerationService generations, string? status, int? limit)
    {
        var tenant = context.Tenant();

        GenerationStatus? filter = null;
        if (status is not null)
        {
            if (!GenerationStatusNames.TryParse(status, out var parsed))
            {
                return Problem.BadRequest(ProblemCodes.InvalidRequest, "status must be queued, running, succeeded, failed or cancelled.");
            }

            filter = parsed;
        }

        if (limit is < 1 or > 1000)
        {
            return Problem.BadRequest(ProblemCodes.InvalidRequest, "limit must be from 1 to 1000.");
        }

        var list = await generations.ListAsync(tenant, filter, limit ?? 100, context.RequestAborted);
        return TypedResults.Ok(new ListView([.. list.Select(r => GenerationView.From(r, null))]));
    }

    internal static async Task<Results<JsonHttpResult<CancelView>, ProblemResult>> CancelAsync(string id, HttpContext context, GenerationService generations)
    {
        var tenant = context.Tenant();

        var outcome = GenerationIds.IsValid(id) ? await generations.CancelAsync(tenant, id, context.RequestAborted) : CancelOutcome.NotFound;
        return outcome switch
        {
            CancelOutcome.NotFound => Problem.NotFound("The generation"),
            CancelOutcome.AlreadyFinished => Problem.Result(StatusCodes.Status409Conflict, ProblemCodes.GenerationFinished, "The generation has already finished.",
                "Only a queued or running generation can be cancelled."),
            _ => TypedResults.Json(new CancelView(id, "cancelling"), statusCode: StatusCodes.Status202Accepted),
        };
    }

    internal static async Task EventsAsync(string id, HttpContext context, GenerationService generations, SseResponder responder, string? format)
    {
        var tenant = context.Tenant();

        var caller = context.GetCaller();
        if (caller.IsToken && caller.TokenResource != AccessTokenService.GenerationResource(id))
        {
            await Problem.WriteAsync(context, StatusCodes.Status403Forbidden, ProblemCodes.Forbidden, "Forbidden.", "The access token is scoped to another resource.");
            return;
        }

        if (format is not (null or "sluice" or "openai"))
        {
            await Problem.BadRequest(ProblemCodes.InvalidRequest, "format must be sluice (default) or openai.").ExecuteAsync(context);
            return;
        }

        var record = GenerationIds.IsValid(id) ? await generations.GetAsync(tenant, id, context.RequestAborted) : null;
        if (record is null)
        {
            await Problem.NotFound("The generation").ExecuteAsync(context);
            return;
        }

        context.Response.Headers[GenerationIdHeader] = record.Id;
        var wire = format == "openai" ? new OpenAiChunkFormat(record, includeUsage: context.Request.Query["include_usage"] != "false") : null;
        await responder.ServeAsync(context, record.StreamKey, wire, record.Status.IsFinished() ? null : Pending(record));
    }

    internal static Ok<ModelList> Models(GenerationService generations) =>
        TypedResults.Ok(new ModelList("list", [.. generations.Catalog.List().Select(r =>
            new ModelView(r.Name, "model", 0, r.OwnedBy, [.. r.Chain.Select(t => t.Name)]))]));

    /// <summary>What a subscriber assumes before the first event of a queued generation is stored: an open, empty stream.</summary>
    internal static StreamInfo Pending(GenerationRecord record) =>
        new(record.StreamKey.StreamId, false, 1, 0, record.CreatedAt, null, record.CreatedAt);

    internal static ProblemResult? Failure(CreateOutcome outcome, SluiceOptions options) => outcome.Kind switch
    {
        CreateKind.Invalid => Problem.BadRequest(outcome.Code!, outcome.Message!),
        CreateKind.Conflict => Problem.Result(StatusCodes.Status422UnprocessableEntity, outcome.Code!, "The Idempotency-Key was reused.", outcome.Message),
        CreateKind.QuotaExceeded => Problem.Result(StatusCodes.Status429TooManyRequests, outcome.Code!, "Too many generations for this tenant.", outcome.Message,
            options.Retry < TimeSpan.FromSeconds(1) ? TimeSpan.FromSeconds(1) : options.Retry),
        CreateKind.Busy => Problem.Result(StatusCodes.Status503ServiceUnavailable, ProblemCodes.Overloaded, "Too many generations on this node.", outcome.Message,
            options.Retry < TimeSpan.FromSeconds(1) ? TimeSpan.FromSeconds(1) : options.Retry),
        _ => null,
    };

    internal static string Hash(byte[] body) => Convert.ToHexStringLower(SHA256.HashData(body));

    internal static bool AcceptsEventStream(HttpContext context) =>
        context.Request.Headers.Accept.Any(a => a is not null && a.Contains("text/event-stream", StringComparison.OrdinalIgnoreCase));

    internal sealed record CreatedView(string Id, string Status, string EventsUrl, DateTimeOffset CreatedAt);

    internal sealed record CancelView(string Id, string Status);

    internal sealed record ListView(GenerationView[] Data);

    internal sealed record ModelList(string Object, ModelView[] Data);

    internal sealed record ModelView(string Id, string Object, long Created, string OwnedBy, string[] Chain);

    internal sealed record UsageView(long? InputTokens, long? OutputTokens);

    internal sealed record ErrorView(string Code, string? Message);

    internal sealed record GenerationView(
        string Id, string Status, string Model, string? Provider, string? ProviderModel, string? FinishReason, UsageView Usage, long? TtftMs, long? E2eMs,
        long LastEventId, ErrorView? Error, string? Channel, string? TraceId, string? PromptId, int? PromptVersion,
        DateTimeOffset CreatedAt, DateTimeOffset? StartedAt, DateTimeOffset? CompletedAt)
    {
        public static GenerationView From(GenerationRecord r, long? liveLastId) => new(
            r.Id, r.Status.ToName(), r.Model, r.Provider, r.ProviderModel, r.FinishReason, new UsageView(r.InputTokens, r.OutputTokens), r.TtftMs, r.E2eMs,
            Math.Max(r.LastEventId, liveLastId ?? 0), r.ErrorCode is null ? null : new ErrorView(r.ErrorCode, r.ErrorMessage), r.Channel, r.TraceId,
            r.PromptId, r.PromptVersion, r.CreatedAt, r.StartedAt, r.CompletedAt);
    }
}

