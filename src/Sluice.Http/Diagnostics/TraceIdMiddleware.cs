using System.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Sluice.Http.Diagnostics;

/// <summary>Accepts, echoes and scopes the trace id of every request (API.md section 1).</summary>
internal sealed class TraceIdMiddleware(RequestDelegate next, ILogger<TraceIdMiddleware> logger)
{
    public const string Header = "X-Trace-Id";

    public async Task InvokeAsync(HttpContext context)
    {
        var traceId = FromHeader(context.Request.Headers[Header].ToString())
            ?? FromTraceParent(context.Request.Headers["traceparent"].ToString())
            ?? Activity.Current?.TraceId.ToHexString()
            ?? ActivityTraceId.CreateRandom().ToHexString();

        context.Features.Set(new TraceIdFeature(traceId));
        context.Response.Headers[Header] = traceId;
        using (logger.BeginScope(new KeyValuePair<string, object>[] { new("TraceId", traceId) }))
        {
            await next(context);
        }
    }

    /// <summary>Printable, header-safe ids of up to 128 characters; anything else is replaced rather than echoed.</summary>
    private static string? FromHeader(string value)
    {
        if (value.Length is 0 or > 128)
        {
            return null;
        }

        foreach (var c in value)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or ':'))
            {
                return null;
            }
        }

        return value;
    }

    private static string? FromTraceParent(string value)
    {
        // version-traceid-parentid-flags: 00-<32 hex>-<16 hex>-<2 hex>
        if (value.Length < 55 || value[2] != '-' || value[35] != '-')
        {
            return null;
        }

        var id = value.Substring(3, 32);
        foreach (var c in id)
        {
            if (!char.IsAsciiHexDigitLower(c))
            {
                return null;
            }
        }

        return id == "00000000000000000000000000000000" ? null : id;
    }
}
