using Microsoft.AspNetCore.Http;
using Sluice.Cluster;

namespace Sluice.Http.Cluster;

/// <summary>
/// <c>X-Sluice-Node</c> on every response (API.md section 9): which node answered, for an operator behind a load
/// balancer. Set as the response starts, so that responses the exception handler rewrites carry it too.
/// </summary>
internal sealed class NodeHeaderMiddleware(RequestDelegate next, NodeIdentity identity)
{
    public const string HeaderName = "X-Sluice-Node";

    private static readonly Func<object, Task> SetHeader = static state =>
    {
        var (context, identity) = ((HttpContext, NodeIdentity))state;
        context.Response.Headers[HeaderName] = identity.Id;
        return Task.CompletedTask;
    };

    public Task InvokeAsync(HttpContext context)
    {
        context.Response.OnStarting(SetHeader, (context, identity));
        return next(context);
    }
}
