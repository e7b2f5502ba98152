using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http;
using ProblemResult = Sluice.Http.Problems.Problem.ProblemResult;
using Sluice.Http.Problems;

namespace Sluice.Http.Requests;

/// <summary>
/// The one way a JSON body is read: whatever its <c>Content-Type</c> (API.md section 1: curl's <c>-d</c> sends
/// <c>application/x-www-form-urlencoded</c>), into a source-generated type, bounded by Kestrel's
/// <c>MaxRequestBodySize</c> (413 <c>body_too_large</c>). Malformed JSON is <c>invalid_json</c>; a value of the
/// wrong type is <c>invalid_request</c> (or the section's own code) naming the field by its JSON path.
/// </summary>
internal static class RequestBody
{
    /// <summary>
    /// A body into <typeparamref name="T"/>, or the problem to answer. An optional body may be absent (no bytes):
    /// then both are null.
    /// </summary>
    public static async Task<(T? Value, ProblemResult? Problem)> ReadAsync<T>(HttpContext context, JsonTypeInfo<T> type, bool optional = false)
        where T : class
    {
        var bytes = await ReadBytesAsync(context);
        if (optional && bytes.Length == 0)
        {
            return (null, null);
        }

        var (value, error) = Parse(bytes, type);
        return error is null ? (value, null) : (null, Problem.BadRequest(error));
    }

    /// <summary>
    /// The record's DataAnnotations (<see cref="System.ComponentModel.DataAnnotations.Validator"/>), for the bodies
    /// that carry them. Not .NET 10's <c>AddValidation()</c>: its source generator in 10.0.x skips internal types
    /// (dotnet/aspnetcore#64435, fixed after 10.0), and the request records are internal.
    /// </summary>
    private static BodyError? Validate(object value)
    {
        if (value is not IAnnotatedBody)
        {
            return null;
        }

        var results = new List<System.ComponentModel.DataAnnotations.ValidationResult>();
        if (System.ComponentModel.DataAnnotations.Validator.TryValidateObject(value, new(value), results, validateAllProperties: true))
        {
            return null;
        }

        // Validator checks top-level properties only, so a member name is one JSON name.
        var first = results[0];
        var member = first.MemberNames.FirstOrDefault();
        var message = first.ErrorMessage ?? "The value is not valid.";
        if (member is null)
        {
            return new BodyError(ProblemCodes.InvalidRequest, message);
        }

        var param = JsonNamingPolicy.SnakeCaseLower.ConvertName(member);
        return new BodyError(ProblemCodes.InvalidRequest, message.Replace(member, param, StringComparison.Ordinal), param);
    }

    /// <summary>The raw bytes, where the body is replayed or hashed (operations' <c>Idempotency-Key</c>).</summary>
    public static async Task<byte[]> ReadBytesAsync(HttpContext context)
    {
        using var buffer = new MemoryStream();
        await context.Request.Body.CopyToAsync(buffer, context.RequestAborted);
        return buffer.ToArray();
    }

    /// <summary>Reads the raw bytes too, where "the same body" matters (<c>Idempotency-Key</c>).</summary>
    public static async Task<(T? Value, byte[] Bytes, BodyError? Error)> ReadWithBytesAsync<T>(HttpContext context, JsonTypeInfo<T> type)
        where T : class
    {
        var bytes = await ReadBytesAsync(context);
        var (value, error) = Parse(bytes, type);
        return (value, bytes, error);
    }

    public static (T? Value, BodyError? Error) Parse<T>(ReadOnlySpan<byte> bytes, JsonTypeInfo<T> type)
        where T : class
    {
        try
        {
            var value = JsonSerializer.Deserialize(bytes, type);
            if (value is null)
            {
                return (null, new BodyError(ProblemCodes.InvalidRequest, "The body must be a JSON object."));
            }

            return Validate(value) is { } invalid ? (null, invalid) : (value, null);
        }
        catch (JsonException ex)
        {
            return (null, Describe(ex));
        }
    }

    /// <summary>Malformed JSON (no path, or a syntax error) versus a well-formed value of the wrong shape.</summary>
    private static BodyError Describe(JsonException ex)
    {
        // The reader's syntax errors (and depth, and trailing data) arrive as an inner JsonException; a
        // well-formed value of the wrong shape comes from a converter, with the path of the field.
        if (ex.InnerException is JsonException syntax)
        {
            return new BodyError(ProblemCodes.InvalidJson, "The body is not valid JSON: " + syntax.Message);
        }

        var param = Param(ex.Path);
        var reason = ex.InnerException is InvalidOperationException inner && inner.Message.Contains("UTF-16", StringComparison.Ordinal)
            ? "holds an unpaired UTF-16 surrogate escape"
            : ex.Message.StartsWith("The JSON value could not be converted", StringComparison.Ordinal) || ex.Message.StartsWith("The JSON property", StringComparison.Ordinal)
                ? "has the wrong type, is unknown or is out of range"
                : ex.Message.TrimEnd('.');
        var code = param?.Split('.', '[')[0] switch
        {
            "messages" => ProblemCodes.InvalidMessages,
            "prompt" => ProblemCodes.InvalidPrompt,
            "simulate" => ProblemCodes.InvalidSimulate,
            "response_contract" or "response_format" => ProblemCodes.InvalidResponseContract,
            "type" => ProblemCodes.InvalidEventType,
            "data" => ProblemCodes.InvalidEventData,
            "events" when param!.EndsWith(".type", StringComparison.Ordinal) => ProblemCodes.InvalidEventType,
            "events" when param!.Contains(".data", StringComparison.Ordinal) => ProblemCodes.InvalidEventData,
            _ => ProblemCodes.InvalidRequest,
        };
        return new BodyError(code, param is null ? "The body " + reason + "." : $"{param} {reason}.", param);
    }

    /// <summary><c>$.messages[0].content</c> as <c>messages[0].content</c>; null for the root.</summary>
    private static string? Param(string? path) => path is null or "$" ? null : path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : path.TrimStart('$');
}
