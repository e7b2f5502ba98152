using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Template;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.OpenApi;
using Microsoft.OpenApi.Reader;
using Sluice.Testing;

namespace Sluice.Server.FunctionalTests;

/// <summary>
/// API.md section 11: <c>GET /openapi/v1.json</c> is the OpenAPI 3 document of the contract. It must load and validate
/// with Microsoft.OpenApi, and name every path and method of API.md.
/// </summary>
public sealed partial class OpenApiDocumentTests : IAsyncLifetime
{
    /// <summary>
    /// The contract's operations as API.md names them (sections 1 to 11). When <c>../shared/API.md</c> is beside the
    /// repository the test also reads it, so this list cannot drift from it.
    /// </summary>
    private static readonly string[] Contract =
    [
        "POST /v1/admin/keys", "GET /v1/admin/keys", "DELETE /v1/admin/keys/{}",
        "POST /v1/streams/{}/events", "GET /v1/streams/{}", "GET /v1/streams/{}/events", "POST /v1/streams/{}/tokens",
        "POST /v1/generations", "GET /v1/generations", "GET /v1/generations/{}", "GET /v1/generations/{}/events",
        "POST /v1/generations/{}/tokens", "POST /v1/generations/{}/cancel", "POST /v1/chat/completions", "GET /v1/models",
        "POST /v1/prompts/{}/versions", "POST /v1/prompts/{}/versions/{}/approve", "GET /v1/prompts/{}",
        "GET /v1/ops/metrics/summary", "GET /v1/ops/traces", "GET /v1/ops/llm/providers/health",
        "POST /v1/ops/llm/providers/{}/kill-switch", "POST /v1/ops/rollbacks", "GET /v1/ops/audit",
        "POST /v1/admin/sse/broadcast-reconnect", "POST /v1/admin/drain", "POST /v1/admin/rate-limit/emergency",
        "DELETE /v1/admin/rate-limit/emergency", "POST /v1/admin/circuit-breaker", "PUT /v1/admin/limits",
        "GET /health/live", "GET /health/ready", "GET /v1/sse/health", "GET /metrics", "GET /v1/logs/stream",
        "GET /openapi/v1.json", "GET /v1/admin/nodes", "GET /dashboard",
    ];

    private SluiceTestServer _server = null!;
    private HttpClient _client = null!;

    public async Task InitializeAsync()
    {
        _server = await SluiceTestServer.StartAsync(store: "memory");
        _client = _server.CreateClient();
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task Document_LoadsAndValidatesAsOpenApi3()
    {
        var (document, diagnostic) = await LoadAsync();

        Assert.Empty(diagnostic!.Errors);
        Assert.True(diagnostic.SpecificationVersion is OpenApiSpecVersion.OpenApi3_0 or OpenApiSpecVersion.OpenApi3_1,
            $"version {diagnostic.SpecificationVersion}");
        Assert.Empty(document!.Validate(ValidationRuleSet.GetDefaultRuleSet())!);
        Assert.Equal("Sluice", document!.Info?.Title);
    }

    [Fact]
    public async Task Document_NamesEveryOperationOfTheContract()
    {
        var (document, _) = await LoadAsync();
        var documented = Operations(document!);

        var missing = Contract.Where(c => !documented.Contains(c)).ToList();

        Assert.True(missing.Count == 0, "missing from /openapi/v1.json: " + string.Join(", ", missing));
    }

    /// <summary>
    /// The list above is what the server routes (so it cannot name a path nobody built), and, where ../shared/API.md
    /// is beside the repository, exactly what the contract names.
    /// </summary>
    [Fact]
    public void ContractList_IsRoutedAndMatchesApiMd()
    {
        var routes = _server.App.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => !e.RoutePattern.Parameters.Any(p => p.IsCatchAll))
            .ToList();
        var unrouted = Contract.Where(operation =>
        {
            var (method, path) = Split(operation);
            var concrete = path.Replace("{}", "1", StringComparison.Ordinal);
            return !routes.Any(e =>
                (e.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods.Contains(method) ?? true) &&
                new TemplateMatcher(TemplateParser.Parse(e.RoutePattern.RawText!.TrimStart('/')), []).TryMatch(concrete, []));
        }).ToList();
        Assert.True(unrouted.Count == 0, "listed but not routed: " + string.Join(", ", unrouted));

        if (FindApiMd() is { } apiMd)
        {
            var named = OperationsIn(File.ReadAllText(apiMd));
            var listed = Contract.ToHashSet(StringComparer.Ordinal);
            var unlisted = named.Where(n => !listed.Contains(n)).ToList();
            var stale = listed.Where(l => !named.Contains(l)).ToList();

            Assert.True(unlisted.Count == 0, "API.md names what the list lacks: " + string.Join(", ", unlisted));
            Assert.True(stale.Count == 0, "the list names what API.md does not: " + string.Join(", ", stale));
        }
    }

    [Fact]
    public async Task AnotherDocumentName_IsAProblem404()
    {
        using var response = await _client.GetAsync("/openapi/v2.json");

        Assert.Equal("not_found", (await response.ProblemAsync(404)).GetProperty("code").GetString());
    }

    [Fact]
    public async Task Document_DescribesBodiesErrorsAndEventStreams()
    {
        var (document, _) = await LoadAsync();
        var publish = document!.Paths["/v1/streams/{streamId}/events"].Operations![HttpMethod.Post];
        var subscribe = document.Paths["/v1/streams/{streamId}/events"].Operations![HttpMethod.Get];
        var chat = document.Paths["/v1/chat/completions"].Operations![HttpMethod.Post];

        Assert.Contains("application/json", publish.RequestBody!.Content!.Keys);
        Assert.Contains("data", publish.RequestBody.Content["application/json"].Schema!.Properties!.Keys);
        Assert.Contains("application/problem+json", publish.Responses!["400"].Content!.Keys);
        Assert.Contains("text/event-stream", subscribe.Responses!["200"].Content!.Keys);
        Assert.Contains(subscribe.Parameters!, p => p.Name == "Last-Event-ID" && p.In == ParameterLocation.Header);
        Assert.Contains("text/event-stream", chat.Responses!["200"].Content!.Keys);
        Assert.Contains("application/json", chat.Responses["200"].Content!.Keys);
        Assert.Equal("OpenAiError", Assert.IsType<OpenApiSchemaReference>(chat.Responses["401"].Content!["application/json"].Schema).Reference.Id);
        Assert.Contains("error", document.Components!.Schemas!["OpenAiError"].Properties!.Keys);
        Assert.DoesNotContain("application/problem+json", chat.Responses["400"].Content!.Keys);

        var codes = document.Components!.Schemas!["Problem"].Properties!["code"].Enum!.Select(n => n!.GetValue<string>()).ToList();
        Assert.Contains("invalid_json", codes);
        Assert.Contains("stream_closed", codes);
        Assert.Contains("rate_limited", codes);
        Assert.Contains("endpoint_shed", codes);
    }

    [Fact]
    public async Task Document_NeedsACredential()
    {
        using var anonymous = _server.CreateClient(key: null);
        using var response = await anonymous.GetAsync("/openapi/v1.json");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    private async Task<(OpenApiDocument? Document, OpenApiDiagnostic? Diagnostic)> LoadAsync()
    {
        using var response = await _client.GetAsync("/openapi/v1.json");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var text = await response.Content.ReadAsStringAsync();
        using (JsonDocument.Parse(text))
        {
        }

        var result = OpenApiDocument.Parse(text, "json");
        return (result.Document, result.Diagnostic);
    }

    private static HashSet<string> Operations(OpenApiDocument document) =>
        [.. document.Paths.SelectMany(p => (p.Value.Operations ?? []).Keys.Select(m => m.Method.ToUpperInvariant() + " " + Normalize(p.Key)))];

    /// <summary>The <c>METHOD /path</c> pairs API.md names, with <c>POST|DELETE</c> as two.</summary>
    internal static HashSet<string> OperationsIn(string markdown)
    {
        var found = new HashSet<string>(StringComparer.Ordinal);
        foreach (Match match in OperationPattern().Matches(markdown))
        {
            foreach (var method in match.Groups["methods"].Value.Split('|'))
            {
                found.Add(method + " " + Normalize(match.Groups["path"].Value));
            }
        }

        return found;
    }

    private static (string Method, string Path) Split(string operation)
    {
        var space = operation.IndexOf(' ', StringComparison.Ordinal);
        return (operation[..space], operation[(space + 1)..]);
    }

    private static string Normalize(string path) => ParameterPattern().Replace(path, "{}");

    private static string? FindApiMd()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Sluice.slnx")))
            {
                var candidate = Path.Combine(dir.FullName, "..", "shared", "API.md");
                return File.Exists(candidate) ? candidate : null;
            }
        }

        return null;
    }

    [GeneratedRegex(@"`(?<methods>(?:GET|POST|PUT|DELETE)(?:\|(?:GET|POST|PUT|DELETE))*) (?<path>/[A-Za-z0-9/{}_.-]*)")]
    private static partial Regex OperationPattern();

    [GeneratedRegex(@"\{[^}]*\}")]
    private static partial Regex ParameterPattern();
}
