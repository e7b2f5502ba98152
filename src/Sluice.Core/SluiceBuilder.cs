using Microsoft.Extensions.DependencyInjection;

namespace Sluice;

/// <summary>
/// What <c>AddSluice</c> returns: the place to choose the store (<c>AddSqliteStore</c>, <c>AddMemoryStore</c>,
/// later <c>AddRedisStore</c>) and any other part, each an extension method of its own project.
/// </summary>
public sealed class SluiceBuilder(IServiceCollection services)
{
    public IServiceCollection Services { get; } = services;
}
