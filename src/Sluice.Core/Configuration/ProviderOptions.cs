namespace Sluice.Configuration;

/// <summary>
/// One provider, <c>Sluice:Providers:{name}</c>. Secrets come from configuration or the environment
/// (<see cref="ApiKeyEnvironmentVariable"/>) and are never logged or echoed.
/// </summary>
public sealed class ProviderOptions
{
    /// <summary><c>Type</c>: <c>simulated</c>, <c>openai</c> (any OpenAI-compatible endpoint) or <c>anthropic</c>.</summary>
    public string Type { get; set; } = "";

    /// <summary><c>BaseUrl</c>: the endpoint, such as <c>http://127.0.0.1:11434/v1</c> for Ollama; the SDK's default when empty.</summary>
    public string? BaseUrl { get; set; }

    /// <summary><c>ApiKey</c>: the provider's secret (prefer user secrets or the environment).</summary>
    public string? ApiKey { get; set; }

    /// <summary><c>ApiKeyEnvironmentVariable</c>: read the secret from this variable, such as <c>OPENAI_API_KEY</c>.</summary>
    public string? ApiKeyEnvironmentVariable { get; set; }

    /// <summary><c>Models</c>: the models this provider serves. Empty: any name is passed upstream (not for <c>simulated</c>).</summary>
    public string[] Models { get; set; } = [];

    /// <summary><c>Enabled</c>: false removes the provider (and its models) without deleting its configuration.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary><c>FirstTokenTimeout</c>: no output within this long fails the attempt (before any token, so it may fall back).</summary>
    public TimeSpan FirstTokenTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary><c>IdleTimeout</c>: silence between two outputs longer than this ends the stream with a retryable error.</summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary><c>TotalTimeout</c>: an attempt still running after this long fails with a retryable <c>provider_timeout</c> (before the first token it may fall back).</summary>
    public TimeSpan TotalTimeout { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary><c>Retry</c>: attempts again on the same provider, only while nothing has been exposed to clients.</summary>
    public RetryOptions Retry { get; set; } = new();

    /// <summary><c>Simulate</c>: defaults of the simulated provider's runs (a request's <c>simulate</c> overrides them).</summary>
    public SimulateOptions Simulate { get; set; } = new();

    /// <summary><c>CircuitBreaker</c>: when repeated failures stop traffic to this provider for a while.</summary>
    public CircuitBreakerOptions CircuitBreaker { get; set; } = new();
}

/// <summary>A provider's circuit breaker (Polly): opens when <see cref="FailureRatio"/> of at least <see cref="MinimumThroughput"/> attempts in <see cref="SamplingDuration"/> failed.</summary>
public sealed class CircuitBreakerOptions
{
    public double FailureRatio { get; set; } = 0.5;

    public int MinimumThroughput { get; set; } = 10;

    public TimeSpan SamplingDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long the circuit stays open before one trial attempt (half-open).</summary>
    public TimeSpan BreakDuration { get; set; } = TimeSpan.FromSeconds(15);
}

/// <summary>
/// Retries on one provider before the chain moves on (Polly retry, exponential backoff with jitter). Off by
/// default: the next link of a fallback chain is usually a faster retry than the provider that just failed.
/// </summary>
public sealed class RetryOptions
{
    /// <summary><c>MaxRetries</c>: 0 to 10 more attempts after a retryable failure before the first token.</summary>
    public int MaxRetries { get; set; }

    /// <summary><c>Delay</c>: the first backoff; each next one doubles.</summary>
    public TimeSpan Delay { get; set; } = TimeSpan.FromMilliseconds(200);
}

/// <summary>The shape of one simulated run (API.md section 5, <c>simulate</c>).</summary>
public sealed class SimulateOptions
{
    /// <summary>The <see cref="Microsoft.Extensions.AI.ChatOptions.AdditionalProperties"/> key a run's shape travels under to the simulated provider.</summary>
    public const string ChatOptionsKey = "sluice.simulate";

    public int? TtftMs { get; set; }

    /// <summary>0: as fast as possible.</summary>
    public double? TokensPerSecond { get; set; }

    public int? OutputTokens { get; set; }

    /// <summary><c>none</c>, <c>before_first_token</c>, <c>mid_stream</c> or <c>hang</c>.</summary>
    public string? Fail { get; set; }

    public int? FailAfterTokens { get; set; }

    public int? ToolCalls { get; set; }

    public int? Citations { get; set; }

    /// <summary>
    /// Provider configuration only: the fraction (0 to 1) of runs that fail, in the <see cref="Fail"/> mode
    /// (<c>before_first_token</c> when unset), spread evenly over the runs. Read live, so a game day can raise
    /// and lower it in appsettings.json without a restart.
    /// </summary>
    public double? FailRate { get; set; }

    /// <summary>Seed of the deterministic text; by default derived from the messages.</summary>
    public int? Seed { get; set; }

    /// <summary>Replaces the generated text (tests of output contracts); tokens split on spaces.</summary>
    public string? Text { get; set; }

    /// <summary>This request's values over <paramref name="defaults"/>.</summary>
    public SimulateOptions Over(SimulateOptions defaults) => new()
    {
        TtftMs = TtftMs ?? defaults.TtftMs,
        TokensPerSecond = TokensPerSecond ?? defaults.TokensPerSecond,
        OutputTokens = OutputTokens ?? defaults.OutputTokens,
        Fail = Fail ?? defaults.Fail,
        FailAfterTokens = FailAfterTokens ?? defaults.FailAfterTokens,
        ToolCalls = ToolCalls ?? defaults.ToolCalls,
        Citations = Citations ?? defaults.Citations,
        Seed = Seed ?? defaults.Seed,
        Text = Text ?? defaults.Text,
        FailRate = FailRate ?? defaults.FailRate,
    };
}

/// <summary>An alias, <c>Sluice:Models:{alias}</c>: an ordered fallback chain of <c>provider/model</c>.</summary>
public sealed class ModelOptions
{
    public string[] Chain { get; set; } = [];
}

/// <summary><c>Sluice:Generations</c>: the worker pool and the request bounds.</summary>
public sealed class GenerationOptions
{
    /// <summary><c>Sluice:Generations:QueueLength</c>: accepted generations waiting for a worker (503 + Retry-After beyond).</summary>
    public int QueueLength { get; set; } = 1024;

    /// <summary><c>Sluice:Generations:MaxPromptChars</c>: all messages together (400 beyond).</summary>
    public int MaxPromptChars { get; set; } = 200_000;

    /// <summary><c>Sluice:Generations:MaxMessages</c>.</summary>
    public int MaxMessages { get; set; } = 256;

    /// <summary><c>Sluice:Generations:MaxOutputTokens</c>: the ceiling of <c>max_tokens</c>.</summary>
    public int MaxOutputTokens { get; set; } = 32_768;

    /// <summary><c>Sluice:Generations:IdempotencyWindow</c>: how long an Idempotency-Key names its generation.</summary>
    public TimeSpan IdempotencyWindow { get; set; } = TimeSpan.FromHours(24);

    /// <summary><c>Sluice:Generations:ShutdownGrace</c>: on shutdown, running generations get this long to finish; the rest end with a retryable <c>worker_lost</c>.</summary>
    public TimeSpan ShutdownGrace { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary><c>Sluice:Generations:Retention</c>: how long finished generation records are kept.</summary>
    public TimeSpan Retention { get; set; } = TimeSpan.FromDays(1);
}
