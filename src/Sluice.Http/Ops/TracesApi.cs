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

/// <summary><c>GET /v1/ops/traces?page=&amp;size=&amp;keyword=&amp;from=&amp;to=</c> (API.md section 6, role admin).</summary>
internal static class TracesApi
{
    // As Elasticsearch's index.max_result_window: past 10,000 events, a time range finds them faster than an offset.
    private const int MaxDepth = 10_000;

    public static IEndpointRouteBuilder MapTracesApi(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/v1/ops/traces", SearchAsync).RequireAuthorization(SluicePolicies.Admin)
            .ProducesProblems(400).WithTags("Operations");
        return endpoints;
    }

    internal static async Task<Results<Ok<TracePage>, ProblemResult>> SearchAsync(HttpContext context, ITraceLog traces, TimeProvider time, string? keyword, DateTimeOffset? from, DateTimeOffset? to, int? page, int? size)
    {
        var now = time.GetUtcNow();
        var start = from ?? now.AddDays(-30);
        var end = to ?? now.AddSeconds(1);
        if (end < start || page is < 0 || size is < 1 or > 1000 || keyword is { Length: > 256 })
        {
            return Problem.BadRequest(ProblemCodes.InvalidRequest, "from must not be after to (ISO 8601), page must be >= 0, size from 1 to 1000, keyword at most 256 characters.");
        }

        if (((long)(page ?? 0) + 1) * (size ?? 100) > MaxDepth)
        {
            // Deep offsets cost a walk over every skipped row; a narrower from/to reaches the same events at once.
            return Problem.BadRequest(ProblemCodes.InvalidRequest, $"page and size reach past the first {MaxDepth} events: narrow the time range with from and to instead.");
        }

        if (!OpsTenant.TrySelect(context, out var tenant))
        {
            return Problem.TenantMismatch();
        }

        var found = await traces.SearchAsync(string.IsNullOrWhiteSpace(keyword) ? null : keyword.Trim(), tenant, start, end, page ?? 0, size ?? 100, context.RequestAborted);
        return TypedResults.Ok(new TracePage(page ?? 0, size ?? 100, [.. found.Select(e => new TraceView(e.Id, e.At, e.Kind, e.TraceId, e.Tenant, e.GenerationId, e.Detail))]));
    }

    internal sealed record TracePage(int Page, int Size, TraceView[] Data);

    internal sealed record TraceView(long Id, DateTimeOffset Time, string Kind, string? TraceId, string? Tenant, string? GenerationId, string Detail);
}
