using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Sluice.Configuration;
using Sluice.Fanout;
using Sluice.Http.Auth;
using Sluice.Http.Diagnostics;
using Sluice.Http.Documentation;
using Sluice.Http.Keys;
using Sluice.Http.Admin;
using OpenTelemetry.Metrics;
using Sluice.Http.Problems;
using Sluice.Http.Streams;
using Sluice.Http.Protection;
using Sluice.Http.Generations;
using Sluice.Http.OpenAi;
using Sluice.Providers;

namespace Sluice.Http;

/// <summary><c>AddSluiceHttp</c> wires the HTTP surface; <c>UseSluice</c> + <c>MapSluice</c> expose it.</summary>
public static class SluiceHttpExtensions
{
    private const string CorsPolicy = "sluice";
    private const string ReadyTag = "ready";

    /// <summary>Sluice as a web application: core, providers and the HTTP surface; choose the store on the result.</summary>
    public static SluiceBuilder AddSluice(this IServiceCollection services, IConfiguration configuration) =>
        new(services.AddSluiceHttp(configuration));

    public static IServiceCollection AddSluiceHttp(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddSluiceCore(configuration);
        services.AddSluiceProviders();
        services.AddSingleton<SseResponder>();
        services.AddHostedService<Sluice.Http.Cluster.NodeIdentityResolver>();
        services.AddSingleton<Sluice.Http.Ops.Auditor>();
        services.AddSingleton<Sluice.Http.Ops.OpsIdempotency>();
        services.AddSingleton<Sluice.Http.Logs.LogStream>();
        services.AddSingleton<ILoggerProvider>(sp => sp.GetRequiredService<Sluice.Http.Logs.LogStream>());
        services.AddProblemDetails();
        services.AddSluiceOpenApi();
        services.AddExceptionHandler<SluiceExceptionHandler>();
        // A query or route value that does not bind (from=yesterday) must answer problem+json like every other
        // bad input, not a bare 400: throwing hands it to the exception handler above.
        services.Configure<Microsoft.AspNetCore.Routing.RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        services.ConfigureHttpJsonOptions(o =>
        {
            o.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
            o.SerializerOptions.DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.Never;
            // As RequestJsonContext reads: "max_tokens":"5" is refused, and the OpenAPI schemas say so.
            o.SerializerOptions.NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.Strict;
        });
        services.AddSingleton<FailedAuthenticationThrottle>();
        services.AddOptions<Microsoft.AspNetCore.Builder.ForwardedHeadersOptions>()
            .Configure<IOptions<SluiceOptions>>((forwarded, sluice) =>
            {
                // ASP.NET trusts loopback by default, and any peer once both lists are empty: Sluice trusts only what
                // is configured, and with nothing configured reads no forwarded header at all.
                forwarded.ForwardedHeaders = sluice.Value.TrustedProxies.Length == 0
                    ? Microsoft.AspNetCore.HttpOverrides.ForwardedHeaders.None
                    : Microsoft.AspNetCore.HttpOverrides.ForwardedHeaders.XForwardedFor | Microsoft.AspNetCore.HttpOverrides.ForwardedHeaders.XForwardedProto;
                forwarded.KnownProxies.Clear();
                forwarded.KnownIPNetworks.Clear();
                foreach (var proxy in sluice.Value.TrustedProxies)
                {
                    if (System.Net.IPAddress.TryParse(proxy, out var address))
                    {
                        forwarded.KnownProxies.Add(address);
                    }
                    else
                    {
                        forwarded.KnownIPNetworks.Add(System.Net.IPNetwork.Parse(proxy));
                    }
                }
            });
        services.AddAuthentication(SluiceAuthenticationHandler.SchemeName)
            .AddScheme<Microsoft.AspNetCore.Authentication.AuthenticationSchemeOptions, SluiceAuthenticationHandler>(SluiceAuthenticationHandler.SchemeName, null);
        services.AddAuthorization(SluicePolicies.Add);
        services.AddCors();
        services.AddOptions<Microsoft.AspNetCore.Cors.Infrastructure.CorsOptions>()
            .Configure<IOptions<SluiceOptions>>((cors, sluice) => cors.AddPolicy(CorsPolicy, policy =>
            {
                policy.WithOrigins(sluice.Value.Cors.Origins)
                    .WithMethods("GET", "POST", "PUT", "DELETE")
                    .WithHeaders("Authorization", "Content-Type", "Last-Event-ID", "X-Tenant-Key", "X-Trace-Id", "traceparent", "Idempotency-Key")
                    .WithExposedHeaders("X-Trace-Id", "Retry-After", "Location", "X-Sluice-Generation-Id", "X-Sluice-Node");
            }));
        services.AddOptions<KestrelServerOptions>()
            .Configure<IOptions<SluiceOptions>>((kestrel, sluice) => kestrel.Limits.MaxRequestBodySize = sluice.Value.Limits.MaxBodyBytes);
        services.AddRateLimiter(_ => { });
        services.AddOptions<Microsoft.AspNetCore.RateLimiting.RateLimiterOptions>()
            .Configure<Sluice.Protection.RuntimeControls, IServiceProvider>((o, controls, sp) =>
                TenantRateLimiter.Configure(o, controls, sp.GetService<Sluice.Protection.IRequestRateStore>(), sp.GetRequiredService<Sluice.Storage.IStoreFaults>()));
        services.AddHealthChecks().AddCheck<StoreHealthCheck>("store", tags: [ReadyTag]);
        services.AddSluiceTracing(configuration);
        if (SluiceOptions.From(configuration).Telemetry.Metrics)
        {
            services.AddOpenTelemetry().WithMetrics(metrics => metrics
                .AddMeter(Sluice.Diagnostics.SluiceMetrics.MeterName)
                // Polly's: resilience_polly_strategy_events_total{event_name="OnCircuitOpened",pipeline_instance="openai"}.
                .AddMeter("Polly")
                // No scrape cache: every scrape sees current values (tests and alerts read exact counts).
                .AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 0));
        }

        return services;
    }

    /// <summary>
    /// Keeps secrets out of logs: ASP.NET's request-start log prints the query string, which can carry an
    /// <c>access_token</c>. Registered after configuration, so it wins over an appsettings level.
    /// </summary>
    public static ILoggingBuilder AddSluiceLogRedaction(this ILoggingBuilder logging) =>
        logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.Warning)
               .AddFilter("Microsoft.AspNetCore.HttpLogging", LogLevel.None);

    /// <summary>
    /// <c>Sluice:Logging:Format=json</c>: one JSON object per line on the console (<c>AddJsonConsole</c>) with the
    /// request's scopes, among them its trace and span ids. Registered after configuration, so it wins over appsettings.
    /// </summary>
    public static ILoggingBuilder AddSluiceLogFormat(this ILoggingBuilder logging, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        if (SluiceOptions.From(configuration).Logging.Json)
        {
            logging.AddJsonConsole(o =>
            {
                o.IncludeScopes = true;
                o.UseUtcTimestamp = true;
                o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
            });
        }

        return logging;
    }

    public static IApplicationBuilder UseSluice(this IApplicationBuilder app)
    {
        app.UseMiddleware<Sluice.Http.Cluster.NodeHeaderMiddleware>();
        app.UseForwardedHeaders();
        app.UseMiddleware<HttpMetricsMiddleware>();
        app.UseMiddleware<TraceIdMiddleware>();
        app.UseExceptionHandler();
        app.UseMiddleware<EndpointSheddingMiddleware>();
        app.UseCors(CorsPolicy);
        app.UseAuthentication();
        app.UseRateLimiter();
        app.UseAuthorization();
        return app;
    }

    public static IEndpointRouteBuilder MapSluice(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapStreamsApi();
        endpoints.MapKeysApi();
        endpoints.MapAdminApi();
        endpoints.MapGenerationsApi();
        endpoints.MapPromptsApi();
        endpoints.MapChatCompletionsApi();
        Sluice.Http.Logs.LogsApi.MapLogsApi(endpoints);
        Sluice.Http.Ops.AuditApi.MapAuditApi(endpoints);
        Sluice.Http.Ops.TracesApi.MapTracesApi(endpoints);
        Sluice.Http.Ops.RollbacksApi.MapRollbacksApi(endpoints);
        Sluice.Http.Ops.MetricsSummaryApi.MapMetricsSummaryApi(endpoints);
        Sluice.Http.Ops.ProvidersOpsApi.MapProvidersOpsApi(endpoints);
        endpoints.MapSseHealth();
        Sluice.Http.Dashboard.DashboardApi.MapDashboard(endpoints);
        endpoints.MapOpenApi(SluiceOpenApi.Route).RequireAuthorization(SluicePolicies.Any).ExcludeFromDescription();
        if (endpoints.ServiceProvider.GetRequiredService<IOptions<SluiceOptions>>().Value.Telemetry.Metrics)
        {
            endpoints.MapPrometheusScrapingEndpoint("/metrics");
        }

        endpoints.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false });
        endpoints.MapHealthChecks("/health/ready", new HealthCheckOptions { Predicate = c => c.Tags.Contains(ReadyTag) });
        // "{*path}", not the default "{*path:nonfile}": a path that looks like a file (/x.yaml) is still a problem+json 404.
        endpoints.MapFallback("{*path}", static () => Problem.Result(StatusCodes.Status404NotFound, ProblemCodes.NotFound, "Not found.", "No such endpoint."));
        return endpoints;
    }
}
