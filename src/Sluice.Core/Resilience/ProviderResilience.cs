using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;
using Polly.Telemetry;
using PollyTelemetry = Polly.Telemetry.TelemetryOptions;
using Polly.Timeout;
using Sluice.Configuration;
using Sluice.Errors;

namespace Sluice.Resilience;

/// <summary>
/// Per-provider resilience: a Polly pipeline around each call (retry while nothing is exposed, then the
/// circuit breaker, then the total timeout, innermost so that the breaker counts timeouts), health from
/// live traffic, and the operator's kill-switch with its expiry. The provider pipeline's kill-switch and resilience
/// layers (<c>Sluice.Providers</c>) ask here and report every attempt; the ops API reads and sets state here.
/// </summary>
internal sealed class ProviderResilience : IDisposable
{
    private static readonly ResiliencePropertyKey<IProviderAttempt> AttemptKey = new("sluice.attempt");
    private readonly ConcurrentDictionary<string, Entry> _providers = new(StringComparer.Ordinal);
    public const string PipelineName = "sluice-provider";

    private readonly IOptionsMonitor<SluiceOptions> _options;
    private readonly TimeProvider _time;
    private readonly PollyTelemetry _telemetry;
    private readonly IKillSwitchStore _store;

    private readonly Cluster.IControlBus _bus = new Cluster.LocalControlBus();

    /// <summary>As the other constructor; kill-switches set here are announced to the cluster on <paramref name="bus"/>.</summary>
    /// <param name="options">The providers' options.</param>
    /// <param name="time">The clock.</param>
    /// <param name="store">Where kill-switches are kept.</param>
    /// <param name="telemetry">Polly's telemetry.</param>
    /// <param name="bus">The cluster's change bus.</param>
    public ProviderResilience(IOptionsMonitor<SluiceOptions> options, TimeProvider time, IKillSwitchStore store, IOptions<PollyTelemetry> telemetry, Cluster.IControlBus? bus)
        : this(options, time, store, telemetry)
    {
        _bus = bus ?? _bus;
    }

    /// <summary>
    /// <paramref name="telemetry"/> is Polly's (Microsoft.Extensions.Resilience enriches it): every retry, timeout
    /// and circuit transition becomes <c>resilience.polly.strategy.events</c>, the provider its <c>pipeline.instance</c>.
    /// </summary>
    public ProviderResilience(IOptionsMonitor<SluiceOptions> options, TimeProvider time, IKillSwitchStore store, IOptions<PollyTelemetry> telemetry)
    {
        _options = options;
        _time = time;
        _store = store;
        _telemetry = telemetry.Value;
    }

    /// <summary>
    /// Runs a call through the provider's pipeline. <paramref name="attempt"/> may run more than once, but only
    /// while <paramref name="canRetry"/> says nothing was exposed. An open circuit throws
    /// <see cref="ProviderException"/> at once, as does the total timeout.
    /// </summary>
    public Task ExecuteAsync(string provider, Func<CancellationToken, Task> attempt, Func<bool> canRetry, CancellationToken cancellationToken) =>
        ExecuteAsync(provider, new DelegateAttempt(attempt, canRetry), cancellationToken);

    /// <summary>As the delegate form, with the attempt and its retry gate as one object (no delegates per call).</summary>
    public async Task ExecuteAsync(string provider, IProviderAttempt attempt, CancellationToken cancellationToken)
    {
        var entry = Get(provider);
        var context = ResilienceContextPool.Shared.Get(cancellationToken);
        context.Properties.Set(AttemptKey, attempt);
        try
        {
            await entry.Pipeline.ExecuteAsync(static (ctx, state) => new ValueTask(state.RunAsync(ctx.CancellationToken)), context, attempt);
        }
        catch (BrokenCircuitException ex)
        {
            throw new ProviderException(ErrorCodes.ProviderUnavailable, $"{provider}: the circuit is open after repeated failures; retry after {ex.RetryAfter?.TotalSeconds ?? 0:0} s.", true, ex) { NoAttempt = true };
        }
        catch (TimeoutRejectedException ex)
        {
            throw new ProviderException(ErrorCodes.ProviderTimeout, $"{provider}: the call did not finish within {ex.Timeout.TotalSeconds:0.###} s.", true, ex);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    public void Report(string provider, bool ok, double? ttftMs) => Get(provider).Health.Record(ok, ttftMs);

    /// <summary>Raised once when a kill-switch runs out by itself (not when an operator lifts it).</summary>
    public event Action<string, KillSwitch>? KillSwitchExpired;

    /// <summary>The kill-switch, if active now (it expires by itself).</summary>
    public KillSwitch? KillSwitchOf(string provider)
    {
        var entry = Get(provider);
        var kill = entry.Kill;
        if (kill is not null && kill.ExpiresAt <= _time.GetUtcNow())
        {
            // The timer may not have fired yet (a busy pool, a fake clock): expiry never waits for it.
            Expire(provider, entry, kill);
            return null;
        }

        return kill;
    }

    /// <summary>Switches <paramref name="provider"/> off until the switch expires; recorded in the store before it takes effect.</summary>
    public async Task<KillSwitch> KillAsync(string provider, TimeSpan duration, string? reason, string actorKeyId, CancellationToken cancellationToken)
    {
        // Whole milliseconds, as the store keeps them: the expiry shown before and after a restart is the same.
        var now = DateTimeOffset.FromUnixTimeMilliseconds(_time.GetUtcNow().ToUnixTimeMilliseconds());
        var kill = new KillSwitch(now, now + duration, reason, actorKeyId);
        await _store.SetAsync(provider, kill, cancellationToken);
        Set(provider, kill);
        await _bus.PublishAsync(Cluster.ControlKinds.KillSwitch, provider, cancellationToken);
        return kill;
    }

    public async Task<KillSwitch?> ReviveAsync(string provider, CancellationToken cancellationToken)
    {
        await _store.SetAsync(provider, null, cancellationToken);
        var previous = Get(provider).Kill;
        Set(provider, null);
        await _bus.PublishAsync(Cluster.ControlKinds.KillSwitch, provider, cancellationToken);
        return previous;
    }

    /// <summary>Stops the expiry timers with the host (they would otherwise keep a stopped node's state alive).</summary>
    public void Dispose()
    {
        foreach (var entry in _providers.Values)
        {
            lock (entry)
            {
                entry.ExpiryTimer?.Dispose();
                entry.ExpiryTimer = null;
            }
        }
    }

    /// <summary>A switch read back from the store at start.</summary>
    internal void Restore(string provider, KillSwitch kill) => Set(provider, kill);

    /// <summary>Another node set (or lifted, null) the provider's switch: as read from the store.</summary>
    internal void Apply(string provider, KillSwitch? kill)
    {
        if (!Equals(Get(provider).Kill, kill))
        {
            Set(provider, kill);
        }
    }

    private void Set(string provider, KillSwitch? kill)
    {
        var entry = Get(provider);
        lock (entry)
        {
            entry.ExpiryTimer?.Dispose();
            entry.ExpiryTimer = null;
            entry.Kill = kill;
            if (kill is not null)
            {
                // A timer, so the expiry is reported when it happens, not at the next generation that asks.
                var due = kill.ExpiresAt - _time.GetUtcNow();
                entry.ExpiryTimer = _time.CreateTimer(_ => Expire(provider, entry, kill), null, due > TimeSpan.Zero ? due : TimeSpan.Zero, Timeout.InfiniteTimeSpan);
            }
        }
    }

    private void Expire(string provider, Entry entry, KillSwitch kill)
    {
        if (Interlocked.CompareExchange(ref entry.Kill, null, kill) == kill)
        {
            KillSwitchExpired?.Invoke(provider, kill);
        }
    }

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

    private Entry Get(string provider) => _providers.GetOrAdd(provider, name => new Entry(name, _options.CurrentValue, _time, _telemetry));

    private sealed class Entry
    {
        public KillSwitch? Kill;

        public ITimer? ExpiryTimer;

        public Entry(string provider, SluiceOptions options, TimeProvider time, PollyTelemetry telemetry)
        {
            var settings = options.Providers.TryGetValue(provider, out var p) ? p : new ProviderOptions();
            var breaker = settings.CircuitBreaker;
            Health = new ProviderHealth(time);
            Circuit = new CircuitBreakerStateProvider();
            var builder = new ResiliencePipelineBuilder { TimeProvider = time, Name = PipelineName, InstanceName = provider }
                .ConfigureTelemetry(telemetry);

            if (settings.Retry.MaxRetries > 0)
            {
                builder.AddRetry(new RetryStrategyOptions
                {
                    MaxRetryAttempts = settings.Retry.MaxRetries,
                    Delay = settings.Retry.Delay,
                    BackoffType = DelayBackoffType.Exponential,
                    UseJitter = true,
                    // Never once a token is out: a second attempt would send the client its tokens again.
                    ShouldHandle = args => ValueTask.FromResult(
                        args.Outcome.Exception is ProviderException { Retryable: true } or TimeoutRejectedException
                        && args.Context.Properties.TryGetValue(AttemptKey, out var attempt) && attempt.CanRetry),
                    OnRetry = _ =>
                    {
                        Health.Record(false, null);
                        return default;
                    },
                });
            }

            Pipeline = builder
                .AddCircuitBreaker(new CircuitBreakerStrategyOptions
                {
                    FailureRatio = breaker.FailureRatio,
                    MinimumThroughput = breaker.MinimumThroughput,
                    SamplingDuration = breaker.SamplingDuration,
                    BreakDuration = breaker.BreakDuration,
                    StateProvider = Circuit,
                    // A provider failure or timeout counts; a generation cancelled by its caller does not.
                    ShouldHandle = new PredicateBuilder().Handle<ProviderException>().Handle<TimeoutRejectedException>(),
                })
                .AddTimeout(settings.TotalTimeout)
                .Build();
        }

        public ResiliencePipeline Pipeline { get; }

        public CircuitBreakerStateProvider Circuit { get; }

        public ProviderHealth Health { get; }
    }
}

/// <summary>One call through a provider's pipeline: run (perhaps again), and whether another run is still allowed.</summary>
internal interface IProviderAttempt
{
    /// <summary>Nothing of the call has been exposed: a retry cannot show a client anything twice.</summary>
    bool CanRetry { get; }

    Task RunAsync(CancellationToken cancellationToken);
}

internal sealed class DelegateAttempt(Func<CancellationToken, Task> run, Func<bool> canRetry) : IProviderAttempt
{
    public bool CanRetry => canRetry();

    public Task RunAsync(CancellationToken cancellationToken) => run(cancellationToken);
}

/// <summary>An operator's kill-switch on a provider: traffic moves to the fallback chain until it expires.</summary>
internal sealed record KillSwitch(DateTimeOffset Since, DateTimeOffset ExpiresAt, string? Reason, string ActorKeyId);

/// <summary>A provider's state for <c>GET /v1/ops/llm/providers/health</c>.</summary>
internal sealed record ProviderState(string Provider, string State, string Circuit, HealthSnapshot Health, KillSwitch? KillSwitch);
