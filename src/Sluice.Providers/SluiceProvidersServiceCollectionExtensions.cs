using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Sluice.Configuration;
using Sluice.Generations;

namespace Sluice.Providers;

public static class SluiceProvidersServiceCollectionExtensions
{
    /// <summary>The model catalog over <c>Sluice:Providers</c> and <c>Sluice:Models</c>, with the built-in simulated provider.</summary>
    public static IServiceCollection AddSluiceProviders(this IServiceCollection services)
    {
        services.TryAddSingleton<IModelCatalog, ModelCatalog>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<SluiceOptions>, ProviderOptionsValidator>());
        return services;
    }
}
