namespace Sluice.Errors;

/// <summary>
/// A provider failure, classified at the provider boundary (see <c>Sluice.Providers</c>'s classifying layer) into
/// the error codes of API.md section 4, so the runner decides fallback and retryability without knowing any SDK.
/// </summary>
internal sealed class ProviderException : Exception
{
    public ProviderException(string code, string message, bool retryable, Exception? inner = null)
        : base(message, inner)
    {
        Code = code;
        Retryable = retryable;
    }

    public ProviderException()
        : this(ErrorCodes.ProviderUnavailable, "The provider failed.", true)
    {
    }

    public ProviderException(string message)
        : this(ErrorCodes.ProviderUnavailable, message, true)
    {
    }

    public ProviderException(string message, Exception inner)
        : this(ErrorCodes.ProviderUnavailable, message, true, inner)
    {
    }

    public string Code { get; }

    public bool Retryable { get; }

    /// <summary>
    /// True when no call reached the provider (its circuit is open): not a failure of the provider's own, so
    /// its health is not charged again. Set by the resilience layer, so no caller needs to know Polly's types.
    /// </summary>
    public bool NoAttempt { get; init; }
}

/// <summary>The <c>code</c> of an <c>error</c> event.</summary>
internal static class ErrorCodes
{
    public const string ProviderUnavailable = "provider_unavailable";

    /// <summary>The OpenAI surface's code for a cancelled generation: OpenAI has no finish_reason for it.</summary>
    public const string GenerationCancelled = "generation_cancelled";
    public const string ProviderTimeout = "provider_timeout";
    public const string ProviderRejected = "provider_rejected";
    public const string RateLimited = "rate_limited";
    public const string ProviderKilled = "provider_killed";
    public const string WorkerLost = "worker_lost";
    public const string ContractViolation = "contract_violation";
    public const string Internal = "internal";

    // A generation request refused before it runs (400/404/422 on the HTTP surface).
    public const string IdempotencyKeyReused = "idempotency_key_reused";

    public const string MissingPromptVariable = "missing_prompt_variable";

    public const string PromptTooLong = "prompt_too_long";

    public const string SimulateNotSupported = "simulate_not_supported";

    public const string UnknownModel = "unknown_model";

    public const string UnknownPrompt = "unknown_prompt";

    public const string UnknownPromptVersion = "unknown_prompt_version";

    public const string InvalidRequest = "invalid_request";
}
