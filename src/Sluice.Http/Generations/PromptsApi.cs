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
using Sluice.Streams;
using Sluice.Http.Documentation;

namespace Sluice.Http.Generations;

/// <summary>API.md section 5: the prompt registry. Versions are numbered per prompt; approving one makes it active.</summary>
internal static class PromptsApi
{
    private const int MaxTemplateChars = 100_000;

    public static IEndpointRouteBuilder MapPromptsApi(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("/v1/prompts/{promptId}").WithTags("Prompts").RequireTenant();
        group.MapPost("/versions", AddVersionAsync).RequireAuthorization(SluicePolicies.Generate)
            .AcceptsJson<VersionRequest>().Produces<VersionView>(StatusCodes.Status201Created).ProducesProblems(400);
        group.MapPost("/versions/{version:int}/approve", ApproveAsync).RequireAuthorization(SluicePolicies.Admin)
            .ProducesProblems(400, 404);
        group.MapGet("/", GetAsync).RequireAuthorization(SluicePolicies.Generate)
            .ProducesProblems(400, 404);
        return endpoints;
    }

    internal static async Task<Results<JsonHttpResult<VersionView>, ProblemResult>> AddVersionAsync(string promptId, HttpContext context, IPromptStore prompts, GenerationService generations, TimeProvider time)
    {
        if (Resolve(context, promptId, out var tenant) is { } problem)
        {
            return problem;
        }

        var (request, bad) = await RequestBody.ReadAsync(context, RequestJsonContext.Default.VersionRequest);
        if (bad is not null)
        {
            return bad;
        }

        if (request!.Template is not { Length: > 0 and <= MaxTemplateChars } template)
        {
            return Problem.BadRequest(ProblemCodes.InvalidRequest, $"template must be a non-empty string of at most {MaxTemplateChars} characters.");
        }

        var model = request.Model;
        if (model is not null && !generations.Catalog.TryResolve(model, out _))
        {
            return Problem.BadRequest(ProblemCodes.UnknownModel, "model must name a configured model or alias (GET /v1/models).");
        }

        string? parameters = null;
        if (request.Params is { ValueKind: not JsonValueKind.Null } p)
        {
            if (p.ValueKind != JsonValueKind.Object)
            {
                return Problem.BadRequest(ProblemCodes.InvalidRequest, "params must be a JSON object such as {\"temperature\":0.2,\"max_tokens\":200}.");
            }

            parameters = p.GetRawText();
        }

        var version = await prompts.AddVersionAsync(tenant, promptId, template, model, parameters, time.GetUtcNow(), context.RequestAborted);
        return TypedResults.Json(VersionView.From(version), statusCode: StatusCodes.Status201Created);
    }

    internal sealed record VersionRequest(string? Template, string? Model, JsonElement? Params);

    internal static async Task<Results<Ok<ApprovedView>, ProblemResult>> ApproveAsync(string promptId, int version, HttpContext context, IPromptStore prompts, Ops.Auditor auditor)
    {
        if (Resolve(context, promptId, out var tenant) is { } problem)
        {
            return problem;
        }

        var before = (await prompts.GetAsync(tenant, promptId, context.RequestAborted))?.ActiveVersion;
        if (!await prompts.ActivateAsync(tenant, promptId, version, context.RequestAborted))
        {
            return Problem.NotFound($"Version {version} of the prompt");
        }

        await auditor.RecordAsync(context, "prompt.approve", $"prompt:{tenant}/{promptId}", before: new { active_version = before }, after: new { active_version = version });
        return TypedResults.Ok(new ApprovedView(promptId, version));
    }

    internal static async Task<Results<Ok<PromptView>, ProblemResult>> GetAsync(string promptId, HttpContext context, IPromptStore prompts)
    {
        if (Resolve(context, promptId, out var tenant) is { } problem)
        {
            return problem;
        }

        var prompt = await prompts.GetAsync(tenant, promptId, context.RequestAborted);
        return prompt is null
            ? Problem.NotFound("The prompt")
            : TypedResults.Ok(new PromptView(prompt.Id, prompt.ActiveVersion, [.. prompt.Versions.Select(VersionView.From)]));
    }

    private static ProblemResult? Resolve(HttpContext context, string promptId, out string tenant)
    {
        tenant = context.Tenant();
        return Identifiers.IsValidStreamId(promptId) ? null : Problem.BadRequest(ProblemCodes.InvalidRequest, "The prompt id must match [A-Za-z0-9._:-]{1,128}.");
    }

    internal sealed record ApprovedView(string Id, int ActiveVersion);

    internal sealed record PromptView(string Id, int? ActiveVersion, VersionView[] Versions);

    internal sealed record VersionView(string Id, int Version, string Template, string? Model, JsonElement? Params, DateTimeOffset CreatedAt)
    {
        public static VersionView From(PromptVersion v)
        {
            JsonElement? parameters = null;
            if (v.ParamsJson is { } json)
            {
                using var doc = JsonDocument.Parse(json);
                parameters = doc.RootElement.Clone();
            }

            return new(v.PromptId, v.Version, v.Template, v.Model, parameters, v.CreatedAt);
        }
    }
}
