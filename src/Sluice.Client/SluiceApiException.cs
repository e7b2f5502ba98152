using System.Net;
using System.Text.Json;

namespace Sluice.Client;

/// <summary>Sluice refused a call: the HTTP status and the problem's <c>code</c> and <c>title</c> (RFC 9457).</summary>
public sealed class SluiceApiException : Exception
{
    /// <summary>A refusal with its status and, when the body was a problem, its code and title.</summary>
    public SluiceApiException(HttpStatusCode statusCode, string? code, string? title)
        : base(Describe(statusCode, code, title))
    {
        StatusCode = statusCode;
        Code = code;
        Title = title;
    }

    /// <summary>The HTTP status.</summary>
    public HttpStatusCode StatusCode { get; }

    /// <summary>The stable code (<c>unauthorized</c>, <c>not_found</c>, <c>validation_failed</c>, ...), when given.</summary>
    public string? Code { get; }

    /// <summary>The problem's title, for people.</summary>
    public string? Title { get; }

    private static string Describe(HttpStatusCode status, string? code, string? title) => (code, title) switch
    {
        (null, null) => $"Sluice answered {(int)status} {status}.",
        (null, _) => $"{title} ({(int)status})",
        (_, null) => $"Sluice answered {(int)status} ({code})",
        _ => $"{title} ({code})",
    };

    /// <summary>The exception for a non-success answer, reading its problem body (or OpenAI's error shape).</summary>
    internal static async Task<SluiceApiException> FromResponseAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        string? code = null;
        string? title = null;
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
            }

            code = Text(root, "code");
        }
        catch (JsonException)
        {
        }

        return new SluiceApiException(response.StatusCode, code, title);
    }

    private static string? Text(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
}
