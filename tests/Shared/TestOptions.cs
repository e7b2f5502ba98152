using Microsoft.Extensions.Options;
using Sluice.Configuration;

namespace Sluice.Testing;

/// <summary>Options that never change, for a service built by hand in a test.</summary>
internal sealed class StaticOptions(SluiceOptions value) : IOptionsMonitor<SluiceOptions>
{
    public SluiceOptions CurrentValue => value;

    public SluiceOptions Get(string? name) => value;

    public IDisposable? OnChange(Action<SluiceOptions, string?> listener) => null;
}

/// <summary>A resilience layer over one provider <c>p</c> with two immediate retries, a breaker that opens after three failures in three, and a 5 s total timeout.</summary>
internal static class TestResilience
{
    public static Resilience.ProviderResilience Create(TimeProvider time)
    {
        var options = new SluiceOptions();
        options.Providers["p"] = new ProviderOptions
        {
            Type = "simulated",
            Retry = { MaxRetries = 2, Delay = TimeSpan.Zero },
            CircuitBreaker = { MinimumThroughput = 3, FailureRatio = 0.5, SamplingDuration = TimeSpan.FromMinutes(10), BreakDuration = TimeSpan.FromSeconds(30) },
            TotalTimeout = TimeSpan.FromSeconds(5),
        };
        return new Resilience.ProviderResilience(new StaticOptions(options), time, new Storage.MemoryKillSwitchStore(), Options.Create(new Polly.Telemetry.TelemetryOptions()));
    }
}
