using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using Polly;
using Polly.CircuitBreaker;
using Sluice.Configuration;
using Sluice.Generations;

namespace Sluice.Resilience;

/// <summary>
/// Per-provider resilience: a Polly circuit breaker around each attempt, health from live traffic, and the
/// operator's kill-switch with its expiry. The executor asks here before it calls a provider and reports
/// every attempt; fallback itself stays in the executor, because only it knows whether a token was exposed.
/// </summary>
public sealed class ProviderResilience
{
    private readonly ConcurrentDictionary<string, Entry> _providers = new(StringComparer.Ordinal);
    private readonly IOptionsMonitor<SluiceOptions> _options;
    private readonly TimeProvider _time;

    public ProviderResilience(IOptionsMonitor<SluiceOptions> options, TimeProvider time)
    {
        _options = options;
        _time = time;
    }

    /// <summary>Runs one attempt through the provider's circuit breaker; an open circuit throws <see cref="ProviderException"/> at once.</summary>
    public async Task ExecuteAsync(string provider, Func<CancellationToken, Task> attempt, CancellationToken cancellationToken)
    {
        var entry = Get(provider);
        try
        {
            await entry.Pipeline.ExecuteAsync(static async (state, ct) => await state(ct), attempt, cancellationToken);
        }
        catch (BrokenCircuitException ex)
        {
            throw new ProviderException(ErrorCodes.ProviderUnavailable, $"{provider}: the circuit is open after repeated failures; retry after {ex.RetryAfter?.TotalSeconds ?? 0:0} s.", true, ex);
        }
    }

    public void Report(string provider, bool ok, double? ttftMs) => Get(provider).Health.Record(ok, ttftMs);

    /// <summary>The kill-switch, if active now (it expires by itself).</summary>
    public KillSwitch? KillSwitchOf(string provider)
    {
        var entry = Get(provider);
        var kill = entry.Kill;
        if (kill is not null && kill.ExpiresAt <= _time.GetUtcNow())
        {
            Interlocked.CompareExchange(ref entry.Kill, null, kill);
            return null;
        }

        return kill;
    }

    public KillSwitch Kill(string provider, TimeSpan duration, string? reason, string actorKeyId)
    {
        var kill = new KillSwitch(_time.GetUtcNow(), _time.GetUtcNow() + duration, reason, actorKeyId);
        Get(provider).Kill = kill;
        return kill;
    }

    public KillSwitch? Revive(string provider) => Interlocked.Exchange(ref Get(provider).Kill, null);

    public ProviderState StateOf(string provider)
    {
        var entry = Get(provider);
        var circuit = entry.Circuit.CircuitState;
        var health = entry.Health.Snapshot();
        var state = KillSwitchOf(provider) is not null ? "killed"
            : circuit is CircuitState.Open or CircuitState.Isolated ? "down"
            : circuit == CircuitState.HalfOpen || health is { Attempts: >= 5, SuccessRate: < 0.9 } ? "degraded"
            : "healthy";
        return new ProviderState(provider, state, CircuitName(circuit), health, KillSwitchOf(provider));
    }

    public static string CircuitName(CircuitState state) => state switch
    {
        CircuitState.Closed => "closed",
        CircuitState.HalfOpen => "half_open",
        _ => "open",
    };

    /// <summary>0 closed, 1 half-open, 2 open: the value of <c>sluice_provider_circuit_state</c>.</summary>
    public static int CircuitValue(string name) => name switch
    {
        "closed" => 0,
        "half_open" => 1,
        _ => 2,
    };

    private Entry Get(string provider) => _providers.GetOrAdd(provider, name => new Entry(name, _options.CurrentValue, _time));

    private sealed class Entry
    {
        public KillSwitch? Kill;

        public Entry(string provider, SluiceOptions options, TimeProvider time)
        {
            var breaker = options.Providers.TryGetValue(provider, out var p) ? p.CircuitBreaker : new CircuitBreakerOptions();
            Health = new ProviderHealth(time);
            Circuit = new CircuitBreakerStateProvider();
            Pipeline = new ResiliencePipelineBuilder { TimeProvider = time }
                .AddCircuitBreaker(new CircuitBreakerStrategyOptions
                {
                    FailureRatio = breaker.FailureRatio,
                    MinimumThroughput = breaker.MinimumThroughput,
                    SamplingDuration = breaker.SamplingDuration,
                    BreakDuration = breaker.BreakDuration,
                    StateProvider = Circuit,
                    // A provider failure counts; a generation cancelled by its caller does not.
                    ShouldHandle = new PredicateBuilder().Handle<ProviderException>(),
                })
                .Build();
        }

        public ResiliencePipeline Pipeline { get; }

        public CircuitBreakerStateProvider Circuit { get; }

        public ProviderHealth Health { get; }
    }
}

/// <summary>An operator's kill-switch on a provider: traffic moves to the fallback chain until it expires.</summary>
public sealed record KillSwitch(DateTimeOffset Since, DateTimeOffset ExpiresAt, string? Reason, string ActorKeyId);

/// <summary>A provider's state for <c>GET /v1/ops/llm/providers/health</c>.</summary>
public sealed record ProviderState(string Provider, string State, string Circuit, HealthSnapshot Health, KillSwitch? KillSwitch);
