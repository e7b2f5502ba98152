using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Sluice.Http.Auth;
using Sluice.Http.Problems;

namespace Sluice.Http.Requests;

/// <summary>
/// What many endpoints check before they run, as endpoint filters: the tenant a request acts on (API.md section 1)
/// and its <c>Idempotency-Key</c> (sections 4 and 6). A handler reads the outcome with <see cref="Tenant"/> and
/// <see cref="IdempotencyKey"/>; a refusal never reaches it.
/// </summary>
internal static class RequestFilters
{
    public const string IdempotencyKeyHeader = "Idempotency-Key";

    /// <summary>Resolves the tenant from the credential and <c>X-Tenant-Key</c>; a mismatch is <c>403 tenant_mismatch</c>.</summary>
    public static TBuilder RequireTenant<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.AddEndpointFilter(TenantFilter.Instance);

    /// <summary>Reads <c>Idempotency-Key</c>: 1 to 255 visible ASCII characters, else <c>400 invalid_idempotency_key</c>.</summary>
    public static TBuilder WithIdempotencyKey<TBuilder>(this TBuilder builder, bool required) where TBuilder : IEndpointConventionBuilder =>
        builder.AddEndpointFilter(required ? IdempotencyKeyFilter.Required : IdempotencyKeyFilter.Optional);

    public static string Tenant(this HttpContext context) =>
        context.Features.Get<TenantFeature>()?.Tenant ?? throw new InvalidOperationException("The endpoint has no RequireTenant() filter.");

    /// <summary>The request's key, or null when it sent none (only where the filter allows that).</summary>
    public static string? IdempotencyKey(this HttpContext context) =>
        context.Features.Get<IdempotencyKeyFeature>() is { } feature
            ? feature.Key
            : throw new InvalidOperationException("The endpoint has no WithIdempotencyKey() filter.");

    private sealed record TenantFeature(string Tenant);

    private sealed record IdempotencyKeyFeature(string? Key);

    private sealed class TenantFilter : IEndpointFilter
    {
        public static readonly TenantFilter Instance = new();

        public ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
        {
            if (!context.HttpContext.TryResolveTenant(out var tenant))
            {
                return ValueTask.FromResult<object?>(Problem.TenantMismatch());
            }

            context.HttpContext.Features.Set(new TenantFeature(tenant));
            return next(context);
        }
    }

    private sealed class IdempotencyKeyFilter(bool required) : IEndpointFilter
    {
        public static readonly IdempotencyKeyFilter Required = new(true);
        public static readonly IdempotencyKeyFilter Optional = new(false);

        public ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
        {
            var header = context.HttpContext.Request.Headers[IdempotencyKeyHeader];
            if (header.Count == 0 && required)
            {
                return ValueTask.FromResult<object?>(Problem.BadRequest(ProblemCodes.IdempotencyKeyRequired,
                    "This call needs an Idempotency-Key header of 1 to 255 visible ASCII characters."));
            }

            string? key = null;
            if (header.Count > 0)
            {
                key = header.ToString();
                if (key.Length is 0 or > 255 || key.Any(c => c is < '!' or > '~'))
                {
                    return ValueTask.FromResult<object?>(Problem.BadRequest(ProblemCodes.InvalidIdempotencyKey,
                        "Idempotency-Key must be 1 to 255 visible ASCII characters."));
                }
            }

            context.HttpContext.Features.Set(new IdempotencyKeyFeature(key));
            return next(context);
        }
    }
}
