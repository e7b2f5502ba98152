using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.FileProviders;
using Microsoft.Net.Http.Headers;

namespace Sluice.Http.Dashboard;

/// <summary>
/// <c>GET /dashboard</c> (API.md section 10): the operator dashboard's page and its two assets, built from
/// <c>clients/js</c> and embedded in this assembly, so a fresh clone runs it with no npm. No credential is needed to load
/// them (the page asks for a key); every answer carries a strict Content-Security-Policy: scripts, styles and
/// connections from this origin only, no inline script or style, never framed.
/// </summary>
internal static class DashboardApi
{
    internal const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

    private static readonly Dictionary<string, string> ContentTypes = new(StringComparer.Ordinal)
    {
        ["index.html"] = "text/html; charset=utf-8",
        ["dashboard.js"] = "text/javascript; charset=utf-8",
        ["dashboard.css"] = "text/css; charset=utf-8",
    };

    private static readonly Lazy<IReadOnlyDictionary<string, Asset>> Assets = new(Load);

    public static IEndpointRouteBuilder MapDashboard(this IEndpointRouteBuilder endpoints)
    {
        // Routing matches /dashboard/ here too; the page links its assets relative to /dashboard, which /dashboard/
        // would resolve one level too deep, so it is sent to /dashboard.
        endpoints.MapGet("/dashboard", (HttpContext context) => context.Request.Path.Value!.EndsWith('/')
                ? Results.Redirect($"{context.Request.PathBase}/dashboard{context.Request.QueryString}", permanent: true)
                : Serve(context, "index.html"))
            .AllowAnonymous()
            .WithSummary("The operator dashboard (HTML; the page asks for an API key).")
            .Produces(StatusCodes.Status200OK, contentType: "text/html");
        // The page has one address, /dashboard: /dashboard/index.html is a 404 like any other unknown file.
        endpoints.MapGet("/dashboard/{file}", (HttpContext context, string file) => Serve(context, file == "index.html" ? "" : file))
            .AllowAnonymous().ExcludeFromDescription();
        return endpoints;
    }

    private static IResult Serve(HttpContext context, string file)
    {
        if (!Assets.Value.TryGetValue(file, out var asset))
        {
            return Problems.Problem.Result(StatusCodes.Status404NotFound, Problems.ProblemCodes.NotFound, "Not found.", "No such dashboard file.");
        }

        var headers = context.Response.Headers;
        headers.ContentSecurityPolicy = ContentSecurityPolicy;
        headers.XContentTypeOptions = "nosniff";
        headers.XFrameOptions = "DENY";
        headers["Referrer-Policy"] = "no-referrer";
        // Revalidated on every load (the ETag makes that a 304), so a Sluice upgrade never leaves a stale page mixed
        // with a new API.
        headers.CacheControl = "no-cache";
        return Results.Bytes(asset.Bytes, asset.ContentType, lastModified: asset.LastModified, entityTag: asset.ETag);
    }

    private static Dictionary<string, Asset> Load()
    {
        var provider = new ManifestEmbeddedFileProvider(typeof(DashboardApi).Assembly, "Dashboard");
        var assets = new Dictionary<string, Asset>(StringComparer.Ordinal);
        foreach (var (name, contentType) in ContentTypes)
        {
            var info = provider.GetFileInfo(name);
            if (!info.Exists)
            {
                continue;
            }

            using var stream = info.CreateReadStream();
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            var bytes = copy.ToArray();
            var etag = new EntityTagHeaderValue($"\"{Convert.ToHexStringLower(SHA256.HashData(bytes))[..16]}\"");
            assets[name] = new Asset(bytes, contentType, info.LastModified, etag);
        }

        return assets;
    }

    private sealed record Asset(byte[] Bytes, string ContentType, DateTimeOffset LastModified, EntityTagHeaderValue ETag);
}
