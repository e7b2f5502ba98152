using System.Net.Http.Headers;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Sluice.Client;

/// <summary>Registers <see cref="SluiceClient"/> and <see cref="SluiceChatClient"/> on <see cref="IHttpClientFactory"/>.</summary>
public static class SluiceClientServiceCollectionExtensions
{
    /// <summary>
    /// A typed <see cref="SluiceClient"/> (transient, its handlers pooled by <see cref="IHttpClientFactory"/>) and an
    /// <see cref="IChatClient"/> on it. <paramref name="configure"/> sets <see cref="SluiceClientOptions.BaseAddress"/>,
    /// <see cref="SluiceClientOptions.ApiKey"/> and the reconnect rules; they are validated at start. The returned
    /// builder adds handlers or resilience to the HTTP client.
    /// </summary>
    public static IHttpClientBuilder AddSluiceClient(this IServiceCollection services, Action<SluiceClientOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<SluiceClientOptions>().Configure(configure).Validate(o =>
        {
            o.Validate();
            return o.BaseAddress is { IsAbsoluteUri: true };
        }, "Sluice:Client needs an absolute BaseAddress.").ValidateOnStart();
        services.AddTransient<IChatClient>(sp =>
        {
            var options = sp.GetRequiredService<IOptions<SluiceClientOptions>>().Value;
            return new SluiceChatClient(sp.GetRequiredService<SluiceClient>(), options.DefaultModel, options.BaseAddress);
        });
        return services.AddHttpClient<SluiceClient>((sp, http) =>
            {
                var options = sp.GetRequiredService<IOptions<SluiceClientOptions>>().Value;
                http.BaseAddress = options.BaseAddress;
                // SSE responses are long; the client's own connect timeout and watchdog bound them instead.
                http.Timeout = Timeout.InfiniteTimeSpan;
                if (options.ApiKey is { Length: > 0 } key)
                {
                    http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
                }
            })
            .AddTypedClient((http, sp) => new SluiceClient(http, sp.GetRequiredService<IOptions<SluiceClientOptions>>().Value, sp.GetService<TimeProvider>()));
    }
}
