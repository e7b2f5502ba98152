using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using ProblemResult = Sluice.Http.Problems.Problem.ProblemResult;
using Microsoft.AspNetCore.Routing;
using Sluice.Http.Auth;
using Sluice.Http.Problems;
using Sluice.Ops;
using Sluice.Http.Documentation;

namespace Sluice.Http.Ops;

/// <summary><c>GET /v1/ops/metrics/summary?limit=100</c> (API.md section 6, role admin): hourly rows by tenant and channel, newest first.</summary>
internal static class MetricsSummaryApi
{
    public static IEndpointRouteBuilder MapMetricsSummaryApi(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/v1/ops/metrics/summary", SummaryAsync).RequireAuthorization(SluicePolicies.Admin)
            .ProducesProblems(400).WithTags("Operations");
        return endpoints;
    }

    internal static async Task<Results<Ok<Summary>, ProblemResult>> SummaryAsync(HttpContext context, OpsMetricsFlusher flusher, IOpsMetricsStore store, int? limit)
    {
        if (limit is < 1 or > 1000)
        {
            return Problem.BadRequest(ProblemCodes.InvalidRequest, "limit must be from 1 to 1000.");
        }

        // The current hour is still in memory: write it first, so the summary is up to the request.
        await flusher.FlushAsync(context.RequestAborted);
        if (!OpsTenant.TrySelect(context, out var tenant))
        {
            return Problem.TenantMismatch();
        }

        var rows = await store.RecentAsync(limit ?? 100, tenant, context.RequestAborted);
        return TypedResults.Ok(new Summary([.. rows.Select(r => new RowView(r.Hour, r.Tenant, r.Channel, r.Requests, r.ErrorsByStatus, r.SseConnections,
            r.ResumeAttempts, r.ResumeFailures, r.TtftP95Ms, r.E2eP95Ms, r.OutputTokens))]));
    }

    internal sealed record Summary(RowView[] Data);

    internal sealed record RowView(
        DateTimeOffset Hour, string Tenant, string Channel, long Requests, IReadOnlyDictionary<string, long> ErrorsByStatus, long SseConnections,
        long ResumeAttempts, long ResumeFailures, double? TtftP95Ms, double? E2eP95Ms, long OutputTokens);
}
