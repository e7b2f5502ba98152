using Microsoft.Extensions.Options;
using Sluice.Configuration;
using Sluice.Generations;

namespace Sluice.Providers;

/// <summary>Rules that span <c>Sluice:Providers</c> and <c>Sluice:Models</c>; each message names the key.</summary>
internal sealed class ProviderOptionsValidator : IValidateOptions<SluiceOptions>
{
    private static readonly string[] Types = [ProviderTarget.SimulatedType, "openai", "anthropic"];
    private static readonly string[] FailModes = ["none", "before_first_token", "mid_stream", "hang"];

    public ValidateOptionsResult Validate(string? name, SluiceOptions options)
    {
        var errors = new List<string>();
        foreach (var (provider, o) in options.Providers)
        {
            var key = "Sluice:Providers:" + provider;
            var type = o.Type.Length == 0 && provider == ModelCatalog.SimulatedProvider ? ProviderTarget.SimulatedType : o.Type;
            if (!Types.Contains(type))
            {
                errors.Add($"{key}:Type must be one of {string.Join(", ", Types)} (got '{o.Type}').");
            }

            if (provider.Contains('/', StringComparison.Ordinal) || provider.Length == 0)
            {
                errors.Add($"{key}: a provider name must not contain '/'.");
            }

            if (o.BaseUrl is { Length: > 0 } url && !Uri.TryCreate(url, UriKind.Absolute, out _))
            {
                errors.Add($"{key}:BaseUrl must be an absolute URL (got '{url}').");
            }

            if (o.FirstTokenTimeout <= TimeSpan.Zero || o.IdleTimeout <= TimeSpan.Zero)
            {
                errors.Add($"{key}:FirstTokenTimeout and {key}:IdleTimeout must be positive TimeSpans such as 00:00:30.");
            }

            if (o.TotalTimeout < TimeSpan.FromMilliseconds(10) || o.TotalTimeout > TimeSpan.FromDays(1))
            {
                errors.Add($"{key}:TotalTimeout must be between 00:00:00.01 and 1.00:00:00, such as 00:10:00.");
            }

            if (o.Retry.MaxRetries is < 0 or > 10 || o.Retry.Delay < TimeSpan.Zero || o.Retry.Delay > TimeSpan.FromMinutes(1))
            {
                errors.Add($"{key}:Retry:MaxRetries must be 0 to 10 and {key}:Retry:Delay 0 to 00:01:00.");
            }

            // Polly's own bounds, checked here so a bad value stops the start instead of the first generation.
            var breaker = o.CircuitBreaker;
            if (breaker.FailureRatio is <= 0 or > 1 || breaker.MinimumThroughput < 2
                || breaker.SamplingDuration < TimeSpan.FromMilliseconds(500) || breaker.BreakDuration < TimeSpan.FromMilliseconds(500))
            {
                errors.Add($"{key}:CircuitBreaker needs FailureRatio in (0, 1], MinimumThroughput of at least 2, SamplingDuration and BreakDuration of at least 00:00:00.5.");
            }

            if (o.Simulate.FailRate is < 0 or > 1 or double.NaN)
            {
                errors.Add($"{key}:Simulate:FailRate must be between 0 and 1 (got {o.Simulate.FailRate}).");
            }

            if (o.Simulate.Fail is { } fail && !FailModes.Contains(fail))
            {
                errors.Add($"{key}:Simulate:Fail must be one of {string.Join(", ", FailModes)} (got '{fail}').");
            }
        }

        var providers = ModelCatalog.Effective(options.Providers);
        foreach (var (alias, model) in options.Models)
        {
            var key = "Sluice:Models:" + alias;
            if (model.Chain.Length == 0)
            {
                errors.Add($"{key}:Chain must list at least one provider/model.");
            }

            for (var i = 0; i < model.Chain.Length; i++)
            {
                var link = model.Chain[i];
                var slash = link.IndexOf('/', StringComparison.Ordinal);
                if (slash <= 0 || !providers.ContainsKey(link[..slash]))
                {
                    errors.Add($"{key}:Chain:{i} must name a configured, enabled provider as provider/model (got '{link}').");
                }
            }
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
