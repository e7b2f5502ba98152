using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Sluice.Diagnostics;

namespace Sluice.Http.Diagnostics;

/// <summary><c>sluice_http_requests_total{route,status}</c>: the route is the template, never the path (bounded labels).</summary>
internal sealed class HttpMetricsMiddleware(RequestDelegate next, SluiceMetrics metrics, Sluice.Ops.OpsMetricsAggregator opsMetrics)
{
    public async Task InvokeAsync(HttpContext context)
    {
        try
        {
            await next(context);
        }
        finally
        {
            var route = (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? "unmatched";
            metrics.HttpRequest(route, context.Response.StatusCode);
            if (context.Features.Get<Auth.SluiceCaller>() is { } caller)
            {
                opsMetrics.Request(caller.Tenant, context.Response.StatusCode);
            }
        }
    }
}
