using System.Net;
using System.Text.Json;

namespace Sluice.Client;

/// <summary>Sluice refused a call: the HTTP status and the problem's <c>code</c> and <c>title</c> (RFC 9457).</summary>
public sealed class SluiceApiException : Exception
{
    /// <summary>A refusal with its status and, when the body was a problem, its code and title.</summary>
    public SluiceApiException(HttpStatusCode statusCode, string? code, string? title, string? detail = null)
        : base(Describe(statusCode, code, title, detail))
    {
        StatusCode = statusCode;
        Code = code;
        Title = title;
        Detail = detail;
    }

    /// <summary>The HTTP status.</summary>
    public HttpStatusCode StatusCode { get; }

    /// <summary>The stable code (<c>unauthorized</c>, <c>not_found</c>, <c>validation_failed</c>, ...), when given.</summary>
    public string? Code { get; }

    /// <summary>The problem's title, for people.</summary>
    public string? Title { get; }

    /// <summary>The problem's detail (what exactly was wrong with this request), when given.</summary>
    public string? Detail { get; }

    private static string Describe(HttpStatusCode status, string? code, string? title, string? detail)
    {
        var what = (title, detail) switch
        {
            (null, null) => $"Sluice answered {(int)status} {status}",
            (null, _) => detail,
            (_, null) => title,
            _ when detail!.Contains(title!, StringComparison.Ordinal) => detail,
            _ => $"{title!.TrimEnd('.')}: {detail}",
        };
        return code is null ? $"{what} ({(int)status})" : $"{what} ({code})";
    }

    /// <summary>The exception for a non-success answer, reading its problem body (RFC 9457) or OpenAI's error shape.</summary>
    /// <param name="response">A response with a non-success status.</param>
    /// <param name="cancellationToken">Cancels reading the body.</param>
    public static async Task<SluiceApiException> FromResponseAsync(HttpResponseMessage response, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(response);
        string? code = null;
        string? title = null;
        string? detail = null;
        try
        {
            var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            using var document = JsonDocument.Parse(text);
            var root = document.RootElement;
            if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.Object)
            {
                root = error;
                title = Text(root, "message");
            }
            else
            {
                title = Text(root, "title");
                detail = Text(root, "detail");
            }

            code = Text(root, "code");
        }
        catch (JsonException)
        {
        }

        return new SluiceApiException(response.StatusCode, code, title, detail);
    }

    private static string? Text(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
}
