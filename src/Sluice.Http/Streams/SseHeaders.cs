using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Sluice.Http.Streams;

internal static class SseHeaders
{
    /// <summary>
    /// The headers of API.md section 3, and no buffering anywhere: <c>X-Accel-Buffering: no</c> for nginx,
    /// <c>no-transform</c> for proxies that compress, and Kestrel's response buffering off.
    /// </summary>
    public static void Apply(HttpContext context)
    {
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "text/event-stream; charset=utf-8";
        response.Headers.CacheControl = "no-cache, no-transform";
        response.Headers["X-Accel-Buffering"] = "no";
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
    }
}
