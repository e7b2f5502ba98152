using Microsoft.AspNetCore.Http;
using Sluice.Http.Problems;
using Sluice.Protection;

namespace Sluice.Http.Protection;

/// <summary>The endpoint circuit breaker (API.md section 7): shed paths answer 503 + Retry-After before any work, the rest serve.</summary>
internal sealed class EndpointSheddingMiddleware(RequestDelegate next, RuntimeControls controls)
{
    public Task InvokeAsync(HttpContext context)
    {
        if (controls.ShedEndpoints.Count > 0 && controls.IsShed(context.Request.Path.Value ?? "/"))
        {
            return Problem.WriteAsync(context, StatusCodes.Status503ServiceUnavailable, ProblemCodes.EndpointShed, "This endpoint is shed.",
                "An operator shed this endpoint with POST /v1/admin/circuit-breaker; retry after the delay.", TimeSpan.FromSeconds(5));
        }

        return next(context);
    }
}
