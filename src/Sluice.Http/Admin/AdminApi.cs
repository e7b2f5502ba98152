using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using ProblemResult = Sluice.Http.Problems.Problem.ProblemResult;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Sluice.Configuration;
using Sluice.Fanout;
using Sluice.Http.Auth;
using Sluice.Http.Problems;
using Sluice.Http.Requests;
using Sluice.Http.Documentation;

namespace Sluice.Http.Admin;

/// <summary>API.md section 7, the SSE levers: broadcast-reconnect and drain (role admin).</summary>
internal static partial class AdminApi
{
    public static RouteGroupBuilder MapAdminApi(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("/v1/admin").RequireAuthorization(SluicePolicies.Admin).WithTags("Admin");
        group.MapPost("/sse/broadcast-reconnect", BroadcastReconnectAsync)
            .AcceptsJson<BroadcastRequest>(optional: true).Produces<BroadcastResponse>(StatusCodes.Status202Accepted).ProducesProblems(400);
        group.MapPost("/drain", DrainAsync).Produces<DrainResponse>(StatusCodes.Status202Accepted);
        MapProtection(group);
        Sluice.Http.Cluster.NodesApi.MapNodesApi(group);
        return group;
    }

    internal static async Task<Results<JsonHttpResult<BroadcastResponse>, ProblemResult>> BroadcastReconnectAsync(HttpContext context, StreamHub hub, IOptionsMonitor<SluiceOptions> options, ILoggerFactory loggers, Ops.Auditor auditor, Sluice.Cluster.IControlBus bus)
    {
        var retry = options.CurrentValue.Retry;
        if (context.Request.ContentLength is > 0 || context.Request.Headers.TransferEncoding.Count > 0)
        {
            var (request, bad) = await RequestBody.ReadAsync(context, RequestJsonContext.Default.BroadcastRequest, optional: true);
            if (bad is not null)
            {
                return bad;
            }

            if (request?.RetryMs is { } ms)
            {
                retry = TimeSpan.FromMilliseconds(ms);
            }
        }

        var count = hub.ReconnectAll(retry, jitter: true);
        // Every node's responses (API.md section 7); the count is this node's.
        await bus.PublishAsync(Sluice.Cluster.ControlKinds.Broadcast, ((long)retry.TotalMilliseconds).ToString(System.Globalization.CultureInfo.InvariantCulture), context.RequestAborted);
        LogBroadcast(loggers.CreateLogger(typeof(AdminApi).FullName!), count, (long)retry.TotalMilliseconds, context.GetCaller().KeyId);
        var response = new BroadcastResponse(count, (long)retry.TotalMilliseconds);
        await auditor.RecordAsync(context, "sse.broadcast_reconnect", "node", after: response);
        return TypedResults.Json(response, statusCode: StatusCodes.Status202Accepted);
    }

    internal static async Task<JsonHttpResult<DrainResponse>> DrainAsync(HttpContext context, StreamHub hub, IOptionsMonitor<SluiceOptions> options, ILoggerFactory loggers, Ops.Auditor auditor)
    {
        var wasDraining = hub.IsDraining;
        var count = hub.Drain(options.CurrentValue.Retry);
        LogDrain(loggers.CreateLogger(typeof(AdminApi).FullName!), count, context.GetCaller().KeyId);
        var response = new DrainResponse(true, count);
        await auditor.RecordAsync(context, "node.drain", "node", before: new { draining = wasDraining }, after: response);
        return TypedResults.Json(response, statusCode: StatusCodes.Status202Accepted);
    }

    [LoggerMessage(EventId = 7001, Level = LogLevel.Warning, Message = "Broadcast-reconnect: {Count} SSE responses sent away with retry {RetryMs} ms (jittered) by {ActorKeyId}")]
    private static partial void LogBroadcast(ILogger logger, int count, long retryMs, string actorKeyId);

    [LoggerMessage(EventId = 7002, Level = LogLevel.Warning, Message = "Drain: node stops taking SSE; {Count} responses sent away, by {ActorKeyId}")]
    private static partial void LogDrain(ILogger logger, int count, string actorKeyId);

    internal sealed record BroadcastRequest([property: System.ComponentModel.DataAnnotations.Range(0L, 3_600_000L)] long? RetryMs) : Requests.IAnnotatedBody;

    internal sealed record BroadcastResponse(int Connections, long RetryMs);

    internal sealed record DrainResponse(bool Draining, int Connections);
}
