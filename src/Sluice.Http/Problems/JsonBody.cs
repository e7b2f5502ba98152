using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Sluice.Http.Problems;

/// <summary>
/// Reads a request body as JSON whatever its <c>Content-Type</c> (API.md section 1: curl's <c>-d</c> sends
/// <c>application/x-www-form-urlencoded</c>). ASP.NET's <c>ReadFromJsonAsync</c> throws on such a request, which
/// answered 500; malformed JSON still throws <see cref="JsonException"/> for the caller's <c>400 invalid_json</c>.
/// </summary>
internal static class JsonBody
{
    public static async ValueTask<T?> ReadAsync<T>(HttpContext context)
    {
        var options = context.RequestServices.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions;
        return await JsonSerializer.DeserializeAsync<T>(context.Request.Body, options, context.RequestAborted);
    }
}
