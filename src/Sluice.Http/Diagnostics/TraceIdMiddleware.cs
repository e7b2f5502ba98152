using System.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Sluice.Http.Diagnostics;

/// <summary>
/// Decides, echoes and scopes the trace id of every request (API.md sections 1 and 11): a valid <c>traceparent</c>'s
/// trace id first; else an <c>X-Trace-Id</c> of 32 hex digits, which <see cref="TraceIdPropagator"/> has also made the
/// trace's id; else any other printable <c>X-Trace-Id</c>, kept as given for logs and audit rows while the trace has its
/// own id; else the trace's id.
/// </summary>
internal sealed class TraceIdMiddleware(RequestDelegate next, ILogger<TraceIdMiddleware> logger)
{
    public const string Header = "X-Trace-Id";

    public async Task InvokeAsync(HttpContext context)
    {
        var traceId = FromTraceParent(context.Request.Headers["traceparent"].ToString())
            ?? FromHeader(context.Request.Headers[Header].ToString())
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

        return TraceIdPropagator.AsTraceId(value) is { } id ? id.ToHexString() : value;
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
