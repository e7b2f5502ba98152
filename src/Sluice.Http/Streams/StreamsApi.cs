using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using ProblemResult = Sluice.Http.Problems.Problem.ProblemResult;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Options;
using Sluice.Configuration;
using Sluice.Fanout;
using Sluice.Http.Auth;
using Sluice.Http.Problems;
using Sluice.Http.Requests;
using Sluice.Streams;
using Sluice.Tenancy;
using Sluice.Http.Documentation;

namespace Sluice.Http.Streams;

/// <summary>API.md section 2: publish, metadata, browser tokens and SSE subscribe.</summary>
internal static class StreamsApi
{
    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 64 };

    public static RouteGroupBuilder MapStreamsApi(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("/v1/streams/{streamId}").WithTags("Streams").RequireTenant();
        group.MapPost("/events", PublishAsync).RequireAuthorization(SluicePolicies.Publish)
            .AcceptsJson<PublishBody>().Produces<PublishResponse>(StatusCodes.Status201Created).ProducesProblems(400, 409, 413);
        group.MapGet("/", GetAsync).RequireAuthorization(SluicePolicies.Read)
            .ProducesProblems(400, 404);
        group.MapGet("/events", SubscribeAsync).RequireAuthorization(SluicePolicies.SubscribeOrToken)
            .ProducesEventStream().Produces(StatusCodes.Status204NoContent).ProducesProblems(400, 404);
        group.MapPost("/tokens", CreateTokenAsync).RequireAuthorization(SluicePolicies.Subscribe)
            .AcceptsJson<TokenRequest>(optional: true).ProducesProblems(400, 404);
        return group;
    }

    internal static async Task<Results<JsonHttpResult<PublishResponse>, ProblemResult>> PublishAsync(string streamId, HttpContext context, StreamHub hub, IOptionsMonitor<SluiceOptions> options)
    {
        if (Resolve(context, streamId, out var key) is { } problem)
        {
            return problem;
        }

        var (body, bad) = await RequestBody.ReadAsync(context, RequestJsonContext.Default.PublishBody);
        if (bad is not null)
        {
            return bad;
        }

        {
            var outcome = PublishRequestReader.Read(body!, options.CurrentValue.Limits);
            if (outcome.Events is null)
            {
                return Problem.Result(outcome.Status, outcome.Code, outcome.Status == 413 ? "An event is too large." : "The event is not valid.", outcome.Detail);
            }

            var result = await hub.PublishAsync(key, outcome.Events, context.RequestAborted);
            if (result.Status == AppendStatus.StreamClosed)
            {
                return Problem.Result(StatusCodes.Status409Conflict, ProblemCodes.StreamClosed, "The stream is closed.",
                    "A terminal event (done, error or safe_response) was published; the stream takes no more events.");
            }

            var ids = new long[result.Events.Count];
            for (var i = 0; i < ids.Length; i++)
            {
                ids[i] = result.Events[i].Id;
            }

            return TypedResults.Json(new PublishResponse(ids), statusCode: StatusCodes.Status201Created);
        }
    }

    internal static async Task<Results<Ok<StreamView>, ProblemResult>> GetAsync(string streamId, HttpContext context, StreamHub hub)
    {
        if (Resolve(context, streamId, out var key) is { } problem)
        {
            return problem;
        }

        var info = await hub.Log.GetInfoAsync(key, context.RequestAborted);
        return info is null ? Problem.NotFound("The stream") : TypedResults.Ok(StreamView.From(info));
    }

    internal static async Task SubscribeAsync(string streamId, HttpContext context, SseResponder responder)
    {
        if (Resolve(context, streamId, out var key) is { } problem)
        {
            await problem.ExecuteAsync(context);
            return;
        }

        var caller = context.GetCaller();
        if (caller.IsToken && caller.TokenResource != AccessTokenService.StreamResource(streamId))
        {
            await Problem.WriteAsync(context, StatusCodes.Status403Forbidden, ProblemCodes.Forbidden, "Forbidden.",
                "The access token is scoped to another resource.");
            return;
        }

        await responder.ServeAsync(context, key);
    }

    internal static async Task<Results<Ok<TokenResponse>, ProblemResult>> CreateTokenAsync(string streamId, HttpContext context, StreamHub hub, AccessTokenService tokens)
    {
        if (Resolve(context, streamId, out var key) is { } problem)
        {
            return problem;
        }

        var (ttl, invalid) = await ReadTokenTtlAsync(context);
        if (invalid is not null)
        {
            return invalid;
        }

        if (await hub.Log.GetInfoAsync(key, context.RequestAborted) is null)
        {
            return Problem.NotFound("The stream");
        }

        var (token, expiresAt) = await tokens.IssueAsync(key.Tenant, AccessTokenService.StreamResource(streamId), ttl, context.GetCaller().KeyId, context.RequestAborted);
        var url = $"{context.Request.Scheme}://{context.Request.Host}{context.Request.PathBase}/v1/streams/{Uri.EscapeDataString(streamId)}/events?access_token={Uri.EscapeDataString(token)}";
        return TypedResults.Ok(new TokenResponse(token, url, expiresAt));
    }

    /// <summary>The optional <c>{"ttl_seconds": 1..86400}</c> of a token request (default 900 s).</summary>
    internal static async Task<(TimeSpan Ttl, ProblemResult? Problem)> ReadTokenTtlAsync(HttpContext context)
    {
        var ttl = TimeSpan.FromSeconds(900);
        if (context.Request.ContentLength is not > 0 && context.Request.Headers.TransferEncoding.Count == 0)
        {
            return (ttl, null);
        }

        var (request, bad) = await RequestBody.ReadAsync(context, RequestJsonContext.Default.TokenRequest, optional: true);
        if (bad is not null)
        {
            return (ttl, bad);
        }

        if (request?.TtlSeconds is { } seconds)
        {
            ttl = TimeSpan.FromSeconds(seconds);
        }

        return (ttl, null);
    }

    /// <summary>Validates the stream id; the key of the stream the request names.</summary>
    private static ProblemResult? Resolve(HttpContext context, string streamId, out StreamKey key)
    {
        key = default;
        if (!Identifiers.IsValidStreamId(streamId))
        {
            return Problem.BadRequest(ProblemCodes.InvalidStreamId, "The stream id must match [A-Za-z0-9._:-]{1,128}.");
        }

        var tenant = context.Tenant();

        key = new StreamKey(tenant, streamId);
        return null;
    }

    internal sealed record PublishResponse(long[] Ids);

    internal sealed record TokenRequest([property: System.ComponentModel.DataAnnotations.Range(1, 86400)] int? TtlSeconds) : Requests.IAnnotatedBody;

    internal sealed record TokenResponse(string AccessToken, string EventsUrl, DateTimeOffset ExpiresAt);

    internal sealed record StreamView(string Id, string Status, long FirstId, long LastId, long Events, DateTimeOffset CreatedAt, DateTimeOffset? ClosedAt)
    {
        public static StreamView From(StreamInfo info) =>
            new(info.StreamId, info.Closed ? "closed" : "open", info.FirstId, info.LastId, info.Events, info.CreatedAt, info.ClosedAt);
    }
}
