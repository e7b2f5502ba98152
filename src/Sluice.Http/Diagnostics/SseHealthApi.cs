using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Sluice.Fanout;
using Sluice.Http.Auth;
using Sluice.Http.Documentation;

namespace Sluice.Http.Diagnostics;

/// <summary>
/// <c>GET /v1/sse/health</c> (API.md section 8): healthy when an event reached a client less than 30 s ago,
/// stale at 30–60 s, down beyond, or when the store does not answer. An idle node goes down by this
/// definition: the endpoint watches the flow of events, not the process (that is <c>/health/live</c>).
/// </summary>
internal static class SseHealthApi
{
    public static RouteHandlerBuilder MapSseHealth(this IEndpointRouteBuilder endpoints) =>
        endpoints.MapGet("/v1/sse/health", GetAsync).RequireAuthorization(SluicePolicies.Any).WithTags("Health");

    internal static async Task<Ok<SseHealth>> GetAsync(HttpContext context, StreamHub hub)
    {
        var age = hub.LastEventAge.TotalSeconds;
        var storeUp = true;
        try
        {
            await hub.Log.PingAsync(context.RequestAborted);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            storeUp = false;
        }

        var status = !storeUp || age > 60 ? "down" : age >= 30 ? "stale" : "healthy";
        return TypedResults.Ok(new SseHealth(status, hub.OpenConnections, Math.Round(age, 3), hub.ReconnectsLast5Minutes));
    }

    internal sealed record SseHealth(
        string Status,
        int OpenConnections,
        double LastEventAgeSeconds,
        [property: System.Text.Json.Serialization.JsonPropertyName("reconnects_5m")] long Reconnects5m);
}
