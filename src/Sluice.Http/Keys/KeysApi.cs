using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using ProblemResult = Sluice.Http.Problems.Problem.ProblemResult;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;
using Sluice.Http.Auth;
using Sluice.Http.Problems;
using Sluice.Http.Requests;
using Sluice.Streams;
using Sluice.Tenancy;
using Sluice.Http.Documentation;

namespace Sluice.Http.Keys;

/// <summary>API.md section 1, key management (role admin). The secret appears in the create response only.</summary>
internal static partial class KeysApi
{
    public static RouteGroupBuilder MapKeysApi(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("/v1/admin/keys").RequireAuthorization(SluicePolicies.Admin).WithTags("Keys");
        group.MapPost("/", CreateAsync).AcceptsJson<CreateKeyRequest>().Produces<KeyView>(StatusCodes.Status201Created).ProducesProblems(400);
        group.MapGet("/", ListAsync).ProducesProblems(400);
        group.MapDelete("/{id}", RevokeAsync).ProducesProblems(404);
        return group;
    }

    internal static async Task<Results<JsonHttpResult<KeyView>, ProblemResult>> CreateAsync(HttpContext context, ApiKeyService keys, TimeProvider time, ILoggerFactory loggers, Sluice.Http.Ops.Auditor auditor)
    {
        var (request, bad) = await RequestBody.ReadAsync(context, RequestJsonContext.Default.CreateKeyRequest);
        if (bad is not null)
        {
            return bad;
        }

        // tenant and roles are present (their annotations); what is left is their form.
        if (!Identifiers.IsValidTenant(request!.Tenant!))
        {
            return Problem.BadRequest(ProblemCodes.InvalidRequest, "'tenant' is required and must match [A-Za-z0-9._-]{1,64}.");
        }

        var roles = Roles.None;
        foreach (var name in request.Roles!)
        {
            if (name is null || !RoleNames.TryParse(name, out var role))
            {
                return Problem.BadRequest(ProblemCodes.InvalidRequest, $"Unknown role '{name}'; use subscribe, publish, generate or admin.");
            }

            roles |= role;
        }

        if (request.ExpiresAt is { } expires && expires <= time.GetUtcNow())
        {
            return Problem.BadRequest(ProblemCodes.InvalidRequest, "'expires_at' must be in the future.");
        }

        var (record, secret) = await keys.CreateAsync(request.Tenant!, roles, request.Name, request.ExpiresAt, context.RequestAborted);
        LogCreated(loggers.CreateLogger(typeof(KeysApi).FullName!), record.Id, record.Tenant, context.GetCaller().KeyId);
        await auditor.RecordAsync(context, "keys.create", "key:" + record.Id, after: KeyView.From(record, null));
        return TypedResults.Json(KeyView.From(record, secret), statusCode: StatusCodes.Status201Created);
    }

    internal static async Task<Results<Ok<KeyList>, ProblemResult>> ListAsync(HttpContext context, ApiKeyService keys, string? tenant)
    {
        if (tenant is not null && !Identifiers.IsValidTenant(tenant))
        {
            return Problem.BadRequest(ProblemCodes.InvalidRequest, "'tenant' must match [A-Za-z0-9._-]{1,64}.");
        }

        var list = await keys.ListAsync(tenant, context.RequestAborted);
        return TypedResults.Ok(new KeyList([.. list.Select(k => KeyView.From(k, null))]));
    }

    internal static async Task<Results<NoContent, ProblemResult>> RevokeAsync(string id, HttpContext context, ApiKeyService keys, ILoggerFactory loggers, Sluice.Http.Ops.Auditor auditor)
    {
        if (!await keys.RevokeAsync(id, context.RequestAborted))
        {
            return Problem.NotFound("The key");
        }

        LogRevoked(loggers.CreateLogger(typeof(KeysApi).FullName!), id, context.GetCaller().KeyId);
        await auditor.RecordAsync(context, "keys.revoke", "key:" + id);
        return TypedResults.NoContent();
    }

    [LoggerMessage(EventId = 4001, Level = LogLevel.Information, Message = "Key {KeyId} created for tenant {Tenant} by {ActorKeyId}")]
    private static partial void LogCreated(ILogger logger, string keyId, string tenant, string actorKeyId);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Information, Message = "Key {KeyId} revoked by {ActorKeyId}")]
    private static partial void LogRevoked(ILogger logger, string keyId, string actorKeyId);

    internal sealed record CreateKeyRequest(
        [property: System.ComponentModel.DataAnnotations.Required] string? Tenant,
        [property: System.ComponentModel.DataAnnotations.Required, System.ComponentModel.DataAnnotations.MinLength(1)] string?[]? Roles,
        [property: System.ComponentModel.DataAnnotations.MaxLength(200)] string? Name,
        DateTimeOffset? ExpiresAt) : Requests.IAnnotatedBody;

    internal sealed record KeyList(KeyView[] Keys);

    internal sealed record KeyView(string Id, string? Key, string Tenant, string[] Roles, string? Name, DateTimeOffset CreatedAt, DateTimeOffset? ExpiresAt, DateTimeOffset? RevokedAt)
    {
        public static KeyView From(ApiKeyRecord r, string? secret) =>
            new(r.Id, secret, r.Tenant, RoleNames.ToNames(r.Roles), r.Name, r.CreatedAt, r.ExpiresAt, r.RevokedAt);
    }
}
