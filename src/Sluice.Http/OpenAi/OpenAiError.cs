using Microsoft.AspNetCore.Http;

namespace Sluice.Http.OpenAi;

/// <summary>
/// OpenAI's error body, <c>{"error":{"message","type","param","code"}}</c>: the OpenAI surface answers every
/// failure in it (its SDKs read nothing else), including those raised before the endpoint runs.
/// </summary>
internal sealed record OpenAiError(OpenAiError.Detail Error)
{
    public const string Path = "/v1/chat/completions";

    public static bool Applies(HttpContext context) =>
        context.Request.Path.StartsWithSegments(Path, StringComparison.Ordinal);

    /// <summary>OpenAI's <c>type</c> for a status, as its API answers them.</summary>
    public static string TypeFor(int status) => status switch
    {
        StatusCodes.Status401Unauthorized => "authentication_error",
        StatusCodes.Status403Forbidden => "permission_error",
        StatusCodes.Status404NotFound => "not_found_error",
        StatusCodes.Status429TooManyRequests => "rate_limit_error",
        >= 500 => "server_error",
        _ => "invalid_request_error",
    };

    public static Task WriteAsync(HttpContext context, int status, string type, string code, string message, string? param = null) =>
        TypedResults.Json(new OpenAiError(new Detail(message, type, param, code)), statusCode: status).ExecuteAsync(context);

    internal sealed record Detail(string Message, string Type, string? Param, string Code);
}
