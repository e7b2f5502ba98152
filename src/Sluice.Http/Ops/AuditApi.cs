using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using ProblemResult = Sluice.Http.Problems.Problem.ProblemResult;
using Microsoft.AspNetCore.Routing;
using Sluice.Audit;
using Sluice.Http.Auth;
using Sluice.Http.Problems;
using Sluice.Http.Documentation;

namespace Sluice.Http.Ops;

/// <summary><c>GET /v1/ops/audit?from=&amp;to=&amp;page=&amp;size=</c> (API.md section 6, role admin): who did what, when, why, trace id, before/after.</summary>
internal static class AuditApi
{
    public static IEndpointRouteBuilder MapAuditApi(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/v1/ops/audit", QueryAsync).RequireAuthorization(SluicePolicies.Admin)
            .ProducesProblems(400).WithTags("Operations");
        return endpoints;
    }

    internal static async Task<Results<Ok<AuditPage>, ProblemResult>> QueryAsync(HttpContext context, IAuditLog audit, TimeProvider time, DateTimeOffset? from, DateTimeOffset? to, int? page, int? size)
    {
        var now = time.GetUtcNow();
        var start = from ?? now.AddDays(-30);
        var end = to ?? now.AddSeconds(1);
        if (end < start || page is < 0 || size is < 1 or > 1000)
        {
            return Problem.BadRequest(ProblemCodes.InvalidRequest, "from must not be after to (ISO 8601), page must be >= 0 and size from 1 to 1000.");
        }

        var entries = await audit.QueryAsync(start, end, page ?? 0, size ?? 100, context.RequestAborted);
        return TypedResults.Ok(new AuditPage(page ?? 0, size ?? 100, [.. entries.Select(AuditView.From)]));
    }

    internal sealed record AuditPage(int Page, int Size, AuditView[] Data);

    internal sealed record ActorView(string KeyId, string Tenant);

    internal sealed record AuditView(long Id, DateTimeOffset At, ActorView Actor, string Action, string Target, string? Reason, string? TraceId, JsonElement? Before, JsonElement? After)
    {
        public static AuditView From(AuditEntry e) => new(e.Id, e.At, new ActorView(e.ActorKeyId, e.ActorTenant), e.Action, e.Target, e.Reason, e.TraceId, Parse(e.BeforeJson), Parse(e.AfterJson));

        private static JsonElement? Parse(string? json)
        {
            if (json is null)
            {
                return null;
            }

            using var document = JsonDocument.Parse(json);
            return document.RootElement.Clone();
        }
    }
}
