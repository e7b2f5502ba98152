using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;

namespace Sluice.Http.Problems;

/// <summary>RFC 9457 problem responses with a stable <c>code</c> and the request's trace id; never a stack trace.</summary>
internal static class Problem
{
    public const string TypeBase = "https://sluice.dev/problems/";

    public static ProblemResult Result(int status, string code, string title, string? detail = null, TimeSpan? retryAfter = null) =>
        new ProblemResult(Create(status, code, title, detail), retryAfter);

    public static ProblemDetails Create(int status, string code, string title, string? detail) => new()
    {
        Status = status,
        Type = TypeBase + code,
        Title = title,
        Detail = detail,
        Extensions = { ["code"] = code },
    };

    public static Task WriteAsync(HttpContext context, int status, string code, string title, string? detail = null, TimeSpan? retryAfter = null) =>
        Result(status, code, title, detail, retryAfter).ExecuteAsync(context);

    /// <summary>A refused body, naming the field it is about as <c>param</c> (the OpenAI surface's name for it).</summary>
    public static ProblemResult BadRequest(Requests.BodyError error)
    {
        var problem = Create(StatusCodes.Status400BadRequest, error.Code, "The request is not valid.", error.Message);
        if (error.Param is not null)
        {
            problem.Extensions["param"] = error.Param;
        }

        return new ProblemResult(problem, null);
    }

    public static ProblemResult BadRequest(string code, string detail) => Result(StatusCodes.Status400BadRequest, code, "The request is not valid.", detail);

    /// <summary><c>X-Tenant-Key</c> names another tenant than a tenant key's own (or an invalid one for an admin key).</summary>
    public static ProblemResult TenantMismatch() =>
        Result(StatusCodes.Status403Forbidden, ProblemCodes.TenantMismatch, "Forbidden.", "X-Tenant-Key must name the credential's own tenant.");

    public static ProblemResult NotFound(string what) => Result(StatusCodes.Status404NotFound, ProblemCodes.NotFound, "Not found.", what + " does not exist.");

    /// <summary>A problem response: one type, so handlers can name it in <c>Results&lt;...&gt;</c>.</summary>
    internal sealed class ProblemResult(ProblemDetails problem, TimeSpan? retryAfter) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            if (retryAfter is { } delay)
            {
                httpContext.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(delay.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
            }

            if (httpContext.Features.Get<Diagnostics.TraceIdFeature>() is { } trace)
            {
                problem.Extensions["trace_id"] = trace.TraceId;
            }

            if (OpenAi.OpenAiError.Applies(httpContext))
            {
                var code = (string)problem.Extensions["code"]!;
                var param = problem.Extensions.TryGetValue("param", out var p) ? p as string : null;
                return OpenAi.OpenAiError.WriteAsync(httpContext, problem.Status ?? 500, OpenAi.OpenAiError.TypeFor(problem.Status ?? 500), code,
                    problem.Detail ?? problem.Title ?? code, param);
            }

            // Written as-is rather than through ProblemDetailsService, whose defaults would replace trace_id
            // with the Activity id; clients correlate with the X-Trace-Id they sent.
            return TypedResults.Json(problem, ProblemJson.Options, "application/problem+json", problem.Status).ExecuteAsync(httpContext);
        }
    }
}

file static class ProblemJson
{
    public static readonly System.Text.Json.JsonSerializerOptions Options = new(System.Text.Json.JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
    };
}
