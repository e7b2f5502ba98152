namespace Sluice.Configuration;

/// <summary>The <c>Sluice</c> configuration section (API.md section 0). Defaults are the documented ones.</summary>
public sealed class SluiceOptions
{
    public const string SectionName = "Sluice";

    /// <summary><c>Sluice:Store</c>: <c>sqlite</c> (default), <c>memory</c> or <c>redis</c>.</summary>
    public string Store { get; set; } = "sqlite";

    /// <summary><c>Sluice:DataDir</c>: where the sqlite store and the bootstrap key file live.</summary>
    public string DataDir { get; set; } = "./data";

    /// <summary><c>Sluice:Redis</c>: StackExchange.Redis connection string, for <c>Store=redis</c>.</summary>
    public string? Redis { get; set; }

    /// <summary>
    /// <c>Sluice:RedisKeyPrefix</c>: what every Redis key and channel of this deployment starts with, so that
    /// several deployments (or test runs) can share one Redis without seeing each other's data.
    /// </summary>
    public string RedisKeyPrefix { get; set; } = "sluice";

    /// <summary>
    /// <c>Sluice:NodeId</c>: this node's name in the cluster (<c>X-Sluice-Node</c>, <c>GET /v1/admin/nodes</c>). Default:
    /// the host name and the port the node listens on. Letters, digits and <c>.-_:</c>, at most 128.
    /// </summary>
    public string? NodeId { get; set; }

    /// <summary><c>Sluice:AdminKey</c>: the bootstrap admin key of tenant <c>default</c>.</summary>
    public string? AdminKey { get; set; }

    /// <summary><c>Sluice:TokenSigningKey</c>: base64 HMAC key for access tokens; generated and stored when absent.</summary>
    public string? TokenSigningKey { get; set; }

    /// <summary><c>Sluice:Heartbeat</c>: interval of the id-less <c>heartbeat</c> event.</summary>
    public TimeSpan Heartbeat { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary><c>Sluice:Retry</c>: the <c>retry:</c> hint sent first on every SSE response.</summary>
    public TimeSpan Retry { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// <c>Sluice:TrustedProxies</c>: addresses or CIDR networks (<c>127.0.0.1</c>, <c>10.0.0.0/8</c>) whose
    /// <c>X-Forwarded-For</c> and <c>X-Forwarded-Proto</c> are believed. None by default: a client's address is its TCP peer.
    /// </summary>
    public string[] TrustedProxies { get; set; } = [];

    public RetentionOptions Retention { get; set; } = new();

    public LimitOptions Limits { get; set; } = new();

    public CorsOptions Cors { get; set; } = new();

    public SqliteOptions Sqlite { get; set; } = new();

    public ClusterOptions Cluster { get; set; } = new();

    public CacheOptions Cache { get; set; } = new();

    public TransportOptions Transport { get; set; } = new();

    /// <summary>The section bound once, for the choices the host makes while it is being built (before DI).</summary>
    public static SluiceOptions From(Microsoft.Extensions.Configuration.IConfiguration configuration) =>
        Microsoft.Extensions.Configuration.ConfigurationBinder.Get<SluiceOptions>(configuration.GetSection(SectionName)) ?? new SluiceOptions();

    /// <summary><c>Sluice:Providers:{name}</c>: the LLM providers by name. <c>simulated</c> exists unless removed.</summary>
    public Dictionary<string, ProviderOptions> Providers { get; set; } = new(StringComparer.Ordinal);

    /// <summary><c>Sluice:Models:{alias}</c>: aliases with their ordered fallback chains.</summary>
    public Dictionary<string, ModelOptions> Models { get; set; } = new(StringComparer.Ordinal);

    public GenerationOptions Generations { get; set; } = new();

    public TelemetryOptions Telemetry { get; set; } = new();

    public LoggingOptions Logging { get; set; } = new();

    public StoreKind StoreKind => Store.ToLowerInvariant() switch
    {
        "memory" => StoreKind.Memory,
        "redis" => StoreKind.Redis,
        _ => StoreKind.Sqlite,
    };
}

public enum StoreKind
{
    Sqlite,
    Memory,
    Redis,
}

public sealed class RetentionOptions
{
    /// <summary><c>Sluice:Retention:Age</c>: events are kept at least this long after a stream's last event.</summary>
    public TimeSpan Age { get; set; } = TimeSpan.FromDays(1);

    /// <summary><c>Sluice:Retention:MaxEventsPerStream</c>: the oldest go first beyond this.</summary>
    public int MaxEventsPerStream { get; set; } = 100_000;

    /// <summary><c>Sluice:Retention:TraceEvents</c>: how long recorded trace events (<c>/v1/ops/traces</c>) are kept.</summary>
    public TimeSpan TraceEvents { get; set; } = TimeSpan.FromDays(30);

    /// <summary><c>Sluice:Retention:OpsMetrics</c>: how long hourly rows of <c>/v1/ops/metrics/summary</c> are kept.</summary>
    public TimeSpan OpsMetrics { get; set; } = TimeSpan.FromDays(90);

    /// <summary><c>Sluice:Retention:Audit</c>: how long the audit trail (<c>/v1/ops/audit</c>) is kept.</summary>
    public TimeSpan Audit { get; set; } = TimeSpan.FromDays(400);

    /// <summary><c>Sluice:Retention:SweepInterval</c>: how often age retention runs.</summary>
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromMinutes(1);
}

public sealed class LimitOptions
{
    /// <summary><c>Sluice:Limits:MaxEventBytes</c>: one event's data, as stored (compact JSON).</summary>
    public int MaxEventBytes { get; set; } = 1024 * 1024;

    /// <summary><c>Sluice:Limits:MaxBodyBytes</c>: any request body.</summary>
    public long MaxBodyBytes { get; set; } = 4L * 1024 * 1024;

    /// <summary><c>Sluice:Limits:SubscriberBufferEvents</c>: live events queued for one connection before it is cut.</summary>
    public int SubscriberBufferEvents { get; set; } = 1024;

    /// <summary><c>Sluice:Limits:SubscriberBufferBytes</c>: bytes of live events a stream keeps for its slowest connection before it is cut.</summary>
    public long SubscriberBufferBytes { get; set; } = 8L * 1024 * 1024;

    /// <summary><c>Sluice:Limits:MaxSseConnections</c>: open SSE responses on this node (503 beyond).</summary>
    public int MaxSseConnections { get; set; } = 20_000;

    /// <summary><c>Sluice:Limits:MaxConcurrentGenerations</c>.</summary>
    public int MaxConcurrentGenerations { get; set; } = 256;

    /// <summary><c>Sluice:Limits:WriteTimeout</c>: a write to one client that takes longer cuts that client off (it resumes from the log).</summary>
    public TimeSpan WriteTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary><c>Sluice:Limits:RequestsPerMinute</c>: each tenant's sustained request rate (429 + Retry-After beyond).</summary>
    public int RequestsPerMinute { get; set; } = 60_000;

    /// <summary><c>Sluice:Limits:RequestBurst</c>: requests a tenant may make at once above the sustained rate.</summary>
    public int RequestBurst { get; set; } = 2_000;

    /// <summary><c>Sluice:Limits:MaxStreamsPerTenant</c>: open SSE responses of one tenant on this node (429 beyond).</summary>
    public int MaxStreamsPerTenant { get; set; } = 10_000;

    /// <summary><c>Sluice:Limits:MaxGenerationsPerTenant</c>: queued and running generations of one tenant on this node (429 beyond).</summary>
    public int MaxGenerationsPerTenant { get; set; } = 1_000;

    /// <summary><c>Sluice:Limits:MaxEventsPerBatch</c>: events in one publish request.</summary>
    public int MaxEventsPerBatch { get; set; } = 1000;

    /// <summary>
    /// <c>Sluice:Limits:ContractValidationTimeout</c>: the time one <c>response_contract</c> validation may take; past it
    /// the output fails its contract (<c>safe_response</c> <c>contract_violation</c>).
    /// </summary>
    public TimeSpan ContractValidationTimeout { get; set; } = TimeSpan.FromMilliseconds(500);
}

public sealed class TelemetryOptions
{
    /// <summary><c>Sluice:Telemetry:Metrics</c>: export metrics at <c>/metrics</c>. Off, no listener subscribes to the meter, so instruments cost nothing (measured in docs/benchmarks.md).</summary>
    public bool Metrics { get; set; } = true;

    /// <summary>
    /// <c>Sluice:Telemetry:Tracing</c>: OpenTelemetry traces (and logs, and the metrics beside <c>/metrics</c>) exported
    /// over OTLP as the standard <c>OTEL_*</c> variables say. Off by default: no tracer listens, so no span is made.
    /// </summary>
    public bool Tracing { get; set; }

    /// <summary>
    /// <c>Sluice:Telemetry:RecordContent</c>: let provider spans carry prompts and outputs
    /// (<c>gen_ai.input.messages</c>, <c>gen_ai.output.messages</c>). Off by default: traces often leave the trust boundary.
    /// </summary>
    public bool RecordContent { get; set; }
}

/// <summary><c>Sluice:Logging</c>.</summary>
public sealed class LoggingOptions
{
    /// <summary><c>Sluice:Logging:Format</c>: <c>text</c> (default, ASP.NET's console format) or <c>json</c> (one JSON object per line, with the trace id).</summary>
    public string Format { get; set; } = "text";

    public bool Json => string.Equals(Format, "json", StringComparison.OrdinalIgnoreCase);
}

public sealed class CorsOptions
{
    /// <summary><c>Sluice:Cors:Origins</c>: exact origins allowed to call Sluice from a browser.</summary>
    public string[] Origins { get; set; } = [];
}

public sealed class SqliteOptions
{
    /// <summary><c>Sluice:Sqlite:Synchronous</c>: <c>normal</c> (default; survives a killed process) or <c>full</c> (also survives power loss).</summary>
    public string Synchronous { get; set; } = "normal";
}

/// <summary><c>Sluice:Cluster</c>.</summary>
public sealed class ClusterOptions
{
    /// <summary>
    /// <c>Sluice:Cluster:LeaseTtl</c>: how long a running generation survives without reaching the store. Its output
    /// is buffered that long through a store outage; an outage that outlasts it ends the generation with <c>worker_lost</c>.
    /// </summary>
    public TimeSpan LeaseTtl { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// <c>Sluice:Cluster:Address</c>: the URL at which this node itself is reached (its per-node endpoints: drain,
    /// <c>/metrics</c>, health), as listed by <c>GET /v1/admin/nodes</c>. Default: the first address it listens on,
    /// with the host name in place of a wildcard host.
    /// </summary>
    public string? Address { get; set; }
}

/// <summary><c>Sluice:Transport</c>.</summary>
public sealed class TransportOptions
{
    /// <summary><c>Sluice:Transport:InlineScheduling</c>: run socket continuations inline (Kestrel's <c>UnsafePreferInlineScheduling</c>).</summary>
    public bool InlineScheduling { get; set; }
}

public sealed class CacheOptions
{
    /// <summary><c>Sluice:Cache:EventsPerStream</c>: recent events kept in memory per stream for replays.</summary>
    public int EventsPerStream { get; set; } = 1024;

    /// <summary><c>Sluice:Cache:MaxStreams</c>: streams whose recent events are kept (0 turns the cache off).</summary>
    public int MaxStreams { get; set; } = 4096;

    /// <summary><c>Sluice:Cache:MaxBytesPerStream</c>: estimated memory per stream; the oldest events go first.</summary>
    public long MaxBytesPerStream { get; set; } = 1024 * 1024;

    /// <summary><c>Sluice:Cache:MaxBytes</c>: estimated memory of the whole cache; least recently used streams go first.</summary>
    public long MaxBytes { get; set; } = 256L * 1024 * 1024;
}
