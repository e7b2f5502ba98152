using System.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Sluice.Configuration;
using Sluice.Diagnostics;

namespace Sluice.Http.Diagnostics;

/// <summary>
/// API.md section 11: traces, logs and metrics over OTLP as the standard <c>OTEL_*</c> variables say, when
/// <c>Sluice:Telemetry:Tracing</c> is on; JSON console logs when <c>Sluice:Logging:Format=json</c>.
/// </summary>
internal static class SluiceTelemetryExtensions
{
    /// <summary>
    /// The trace id rule (always), and with <c>Sluice:Telemetry:Tracing</c> a tracer over ASP.NET Core, HttpClient,
    /// Sluice's generation spans and the provider spans, exported over OTLP with the metrics.
    /// </summary>
    internal static IServiceCollection AddSluiceTracing(this IServiceCollection services, IConfiguration configuration)
    {
        TraceIdPropagator.InstallGenerator();
        services.AddSingleton<DistributedContextPropagator>(new TraceIdPropagator(DistributedContextPropagator.CreateDefaultPropagator()));
        var sluice = SluiceOptions.From(configuration);
        if (!sluice.Telemetry.Tracing)
        {
            // No tracer provider: no listener on any source, so StartActivity returns null everywhere and nothing is exported.
            return services;
        }

        services.AddOpenTelemetry()
            .ConfigureResource(resource =>
            {
                // OTEL_SERVICE_NAME (and OTEL_RESOURCE_ATTRIBUTES) win when set; otherwise the service is "sluice".
                if (string.IsNullOrEmpty(configuration["OTEL_SERVICE_NAME"]))
                {
                    resource.AddService("sluice", serviceInstanceId: sluice.NodeId);
                }
            })
            .WithTracing(tracing => tracing
                .AddSource(SluiceTracing.SourceName, SluiceTracing.ProviderSourceName)
                .AddAspNetCoreInstrumentation(o =>
                {
                    o.Filter = IsTraced;
                    o.RecordException = true;
                })
                .AddHttpClientInstrumentation(o => o.RecordException = true)
                .AddProcessor(new GenAiSystemProcessor())
                .AddOtlpExporter())
            .WithMetrics(metrics => metrics.AddOtlpExporter())
            .WithLogging(logging => logging.AddOtlpExporter(), options =>
            {
                options.IncludeScopes = true;
                options.IncludeFormattedMessage = true;
            });
        return services;
    }

    // Probes and scrapes every few seconds would bury the traces people look for.
    private static bool IsTraced(HttpContext context) =>
        !context.Request.Path.StartsWithSegments("/health", StringComparison.Ordinal)
        && !context.Request.Path.StartsWithSegments("/metrics", StringComparison.Ordinal);
}
