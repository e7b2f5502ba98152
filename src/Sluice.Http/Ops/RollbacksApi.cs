using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using ProblemResult = Sluice.Http.Problems.Problem.ProblemResult;
using Microsoft.AspNetCore.Routing;
using Sluice.Generations;
using Sluice.Http.Auth;
using Sluice.Http.Problems;

using Sluice.Http.Requests;
using Sluice.Http.Documentation;

namespace Sluice.Http.Ops;

/// <summary>
/// <c>POST /v1/ops/rollbacks {"target_type":"prompt","target_id","to_version","reason"}</c> (API.md section 6, role
/// admin, <c>Idempotency-Key</c>): makes the named prompt version active for new generations, audited. The
/// tenant is the caller's, or the one <c>X-Tenant-Key</c> selects.
/// </summary>
internal static class RollbacksApi
{
    public static IEndpointRouteBuilder MapRollbacksApi(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapPost("/v1/ops/rollbacks", RollbackAsync).RequireAuthorization(SluicePolicies.Admin)
            .RequireTenant().WithIdempotencyKey(required: true)
            .AcceptsJson<RollbackRequest>().Produces<RollbackView>().ProducesProblems(400, 404, 409, 422).WithTags("Operations");
        return endpoints;
    }

    internal static async Task<Results<OpsIdempotency.Replay, ProblemResult>> RollbackAsync(HttpContext context, IPromptStore prompts, OpsIdempotency idempotency, Auditor auditor)
    {
        var body = await RequestBody.ReadBytesAsync(context);
        return await idempotency.RunAsync(context, body, async () =>
        {
            var tenant = context.Tenant();

            var (request, error) = RequestBody.Parse(body, RequestJsonContext.Default.RollbackRequest);
            if (error is not null)
            {
                return Problem.BadRequest(error);
            }

            if (request?.TargetType != "prompt" || request.TargetId is not { Length: > 0 } id || !Sluice.Streams.Identifiers.IsValidStreamId(id) || request.ToVersion is not (>= 1))
            {
                return Problem.BadRequest(ProblemCodes.InvalidRequest, "The body must be {\"target_type\":\"prompt\",\"target_id\",\"to_version\":n,\"reason\"}.");
            }

            var before = (await prompts.GetAsync(tenant, id, context.RequestAborted))?.ActiveVersion;
            if (!await prompts.ActivateAsync(tenant, id, request.ToVersion.Value, context.RequestAborted))
            {
                return Problem.NotFound($"Version {request.ToVersion} of the prompt");
            }

            var view = new RollbackView("prompt", id, before, request.ToVersion.Value);
            await auditor.RecordAsync(context, "rollback.prompt", $"prompt:{tenant}/{id}", request.Reason, new { active_version = before }, new { active_version = request.ToVersion });
            return TypedResults.Ok(view);
        });
    }

    internal sealed record RollbackRequest(string? TargetType, string? TargetId, int? ToVersion, [property: System.ComponentModel.DataAnnotations.MaxLength(Auditor.MaxReasonLength)] string? Reason)
        : Requests.IAnnotatedBody;

    internal sealed record RollbackView(string TargetType, string TargetId, int? FromVersion, int ActiveVersion);
}
