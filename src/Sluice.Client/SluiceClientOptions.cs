namespace Sluice.Client;

/// <summary>How a <see cref="SluiceClient"/> reconnects (API.md section 10; docs/clients.md).</summary>
public sealed class SluiceClientOptions
{
    /// <summary>Sluice's base URL, e.g. <c>http://127.0.0.1:8080</c> (used by <c>AddSluiceClient</c>; a given HttpClient has its own).</summary>
    public Uri? BaseAddress { get; set; }

    /// <summary>The API key sent as <c>Authorization: Bearer</c> (used by <c>AddSluiceClient</c>). Never ship one to a browser.</summary>
    public string? ApiKey { get; set; }

    /// <summary>The model <see cref="SluiceChatClient"/> asks for when the call's options name none; default <c>simulated/default</c>.</summary>
    public string DefaultModel { get; set; } = "simulated/default";

    /// <summary>The waits before the 1st, 2nd, ... retry of a failed connect; the last repeats. Default 1 s, 2 s, 5 s, 15 s.</summary>
    public IReadOnlyList<TimeSpan> Backoff { get; set; } = [TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(15)];

    /// <summary>Each wait is spread by this fraction either way (default 0.1: ±10 %).</summary>
    public double Jitter { get; set; } = 0.1;

    /// <summary>Failed connects in a row retried before <see cref="SluiceStreamException"/>; default 8.</summary>
    public int MaxRetries { get; set; } = 8;

    /// <summary>A connect with no response headers within this is a failed attempt; default 10 s.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>A connection silent for this long (three server heartbeats) is replaced; default 45 s.</summary>
    public TimeSpan HeartbeatTimeout { get; set; } = TimeSpan.FromSeconds(45);

    /// <summary>Throws when a value cannot work.</summary>
    public void Validate()
    {
        if (Backoff is not { Count: > 0 } || Backoff.Any(b => b < TimeSpan.Zero))
        {
            throw new ArgumentException("Backoff needs at least one non-negative wait.", nameof(Backoff));
        }

        ArgumentOutOfRangeException.ThrowIfNegative(Jitter, nameof(Jitter));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(Jitter, 1, nameof(Jitter));
        ArgumentOutOfRangeException.ThrowIfNegative(MaxRetries, nameof(MaxRetries));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(ConnectTimeout, TimeSpan.Zero, nameof(ConnectTimeout));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(HeartbeatTimeout, TimeSpan.Zero, nameof(HeartbeatTimeout));
        ArgumentException.ThrowIfNullOrEmpty(DefaultModel, nameof(DefaultModel));
    }
}

/// <summary>Why a stream could not go on: the retries are spent, or the server refused for good (401, 403, 404, 400).</summary>
public sealed class SluiceStreamException : Exception
{
    /// <summary>A failure with the last HTTP status seen (null when no response came) and the last cause.</summary>
    public SluiceStreamException(string message, int? statusCode, Exception? innerException = null)
        : base(message, innerException)
    {
        StatusCode = statusCode;
    }

    /// <summary>The HTTP status of the last refused connect, if there was one.</summary>
    public int? StatusCode { get; }
}
