using System.Diagnostics;
using System.Diagnostics.Metrics;
using Sluice.Streams;

namespace Sluice.Diagnostics;

/// <summary>
/// Sluice's instruments (API.md section 8), from one <see cref="IMeterFactory"/> meter. Exported names follow
/// OpenTelemetry's Prometheus conventions: dots become underscores, counters gain <c>_total</c>, unit
/// <c>s</c> gains <c>_seconds</c>. Labels are bounded: event types fold custom ones into <c>custom</c>,
/// resume failures have two reasons, routes are templates; never an id, a tenant or a token.
/// </summary>
internal sealed class SluiceMetrics
{
    public const string MeterName = "Sluice";

    /// <summary>Histogram buckets fit for time-to-first-token and connection lifetimes: 1 ms to 60 s, then long tails.</summary>
    public static readonly double[] SecondsBuckets =
        [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600];

    internal static readonly string[] EventTypeLabels =
        [EventTypes.Token, EventTypes.Tool, EventTypes.Citation, EventTypes.Done, EventTypes.Error, EventTypes.Heartbeat, EventTypes.SafeResponse, "custom"];

    private readonly UpDownCounter<long> _connectionsOpen;
    private readonly Counter<long> _reconnects;
    private readonly Counter<long> _resumeFailures;
    private readonly Counter<long> _eventsSent;
    private readonly Histogram<double> _connectionDuration;
    private readonly Counter<long> _httpRequests;
    private readonly Histogram<double> _generationTtft;
    private readonly Histogram<double> _generationDuration;
    private readonly Counter<long> _generations;
    private readonly Counter<long> _disconnects;
    private readonly Counter<long> _leaseRenewFailures;
    private readonly Counter<long> _reaped;

    public SluiceMetrics(IMeterFactory meterFactory, Storage.IStoreStatus? store = null)
    {
        store ??= new Storage.EmbeddedStoreStatus();
        var meter = meterFactory.Create(MeterName);
        _connectionsOpen = meter.CreateUpDownCounter<long>("sluice.sse.connections.open", description: "Open SSE responses on this node.");
        _reconnects = meter.CreateCounter<long>("sluice.sse.reconnects", description: "SSE subscribes that resumed from a position (Last-Event-ID or lastEventId).");
        _resumeFailures = meter.CreateCounter<long>("sluice.sse.resume_failures", description: "Resumes that could not continue exactly: history_truncated or event_id_ahead.");
        _eventsSent = meter.CreateCounter<long>("sluice.sse.events_sent", description: "Events written to SSE clients, by type.");
        _connectionDuration = meter.CreateHistogram<double>("sluice.sse.connection.duration", unit: "s", description: "How long SSE responses stayed open.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = SecondsBuckets });
        _httpRequests = meter.CreateCounter<long>("sluice.http.requests", description: "HTTP requests by route template and status code.");
        _generationTtft = meter.CreateHistogram<double>("sluice.generation.ttft", unit: "s", description: "Time from accepting a generation to its first output written to its stream.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = SecondsBuckets });
        _generationDuration = meter.CreateHistogram<double>("sluice.generation.duration", unit: "s", description: "Time from accepting a generation to its terminal event.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = SecondsBuckets });
        _generations = meter.CreateCounter<long>("sluice.generations", description: "Finished generations by status.");
        _disconnects = meter.CreateCounter<long>("sluice.sse.disconnects", description: "Ended SSE responses by why they ended (client, terminal, slow_consumer, revoked, expired, broadcast, drain).");
        meter.CreateObservableGauge("sluice.provider.up", () => Providers(static p => p.State is "healthy" or "degraded" ? 1 : 0),
            description: "1 while a provider takes traffic (healthy or degraded), 0 when down (circuit open) or killed.");
        meter.CreateObservableGauge("sluice.provider.circuit_state", () => Providers(static p => Resilience.ProviderResilience.CircuitValue(p.Circuit)),
            description: "A provider's circuit breaker: 0 closed, 1 half-open, 2 open.");
        meter.CreateObservableGauge("sluice.store.up", () => store.IsUp ? 1 : 0,
            description: "1 while this node reaches its store (for Redis: a probe every second of commands and of its pub/sub subscription), 0 when not.");
        meter.CreateObservableCounter("sluice.store.resubscribes", () => store.Resubscribes,
            description: "Times this node's live feed subscribed again after its subscription was lost (a reconnect, or a probe that found it dead).");
        _leaseRenewFailures = meter.CreateCounter<long>("sluice.lease.renew_failures",
            description: "Generation lease renewals that failed: the store unreachable (retried) or the lease found taken over (the generation stops).");
        _reaped = meter.CreateCounter<long>("sluice.generations.reaped",
            description: "Generations this node ended with worker_lost because their owner's lease expired (or, on one node, a previous process left them).");
        meter.CreateObservableGauge("sluice.cluster.nodes", () => ClusterNodes?.Invoke() ?? 1,
            description: "Nodes registered with the cluster and seen within Sluice:Cluster:LeaseTtl (1 on an embedded store).");
        LastEventAge = meter.CreateObservableGauge("sluice.sse.last_event_age", () => LastEventAgeSeconds?.Invoke() ?? 0, unit: "s",
            description: "Seconds since an event was last written to any SSE client on this node.");
    }

    internal ObservableGauge<double> LastEventAge { get; }

    /// <summary>Set at start: every configured provider's state, behind <c>sluice_provider_up</c> and <c>sluice_provider_circuit_state</c>.</summary>
    public Func<IEnumerable<Resilience.ProviderState>>? ProviderStates { get; set; }

    private IEnumerable<Measurement<int>> Providers(Func<Resilience.ProviderState, int> value)
    {
        foreach (var state in ProviderStates?.Invoke() ?? [])
        {
            yield return new Measurement<int>(value(state), new KeyValuePair<string, object?>("provider", state.Provider));
        }
    }

    /// <summary>Set by the node registry: the value behind <c>sluice_cluster_nodes</c>.</summary>
    public Func<int>? ClusterNodes { get; set; }

    public void LeaseRenewFailed() => _leaseRenewFailures.Add(1);

    public void GenerationReaped() => _reaped.Add(1);

    /// <summary>Set by the hub: the value behind <c>sluice_sse_last_event_age_seconds</c>.</summary>
    public Func<double>? LastEventAgeSeconds { get; set; }

    public void ConnectionOpened() => _connectionsOpen.Add(1);

    public void ConnectionClosed(TimeSpan duration)
    {
        _connectionsOpen.Add(-1);
        _connectionDuration.Record(duration.TotalSeconds);
    }

    /// <summary>Provider and model labels come from configuration (bounded); never a tenant or an id.</summary>
    public void GenerationFirstToken(string provider, string model, TimeSpan elapsed)
    {
        if (_generationTtft.Enabled)
        {
            _generationTtft.Record(elapsed.TotalSeconds, new KeyValuePair<string, object?>("provider", provider), new KeyValuePair<string, object?>("model", model));
        }
    }

    public void GenerationFinished(string status, string provider, string model, TimeSpan elapsed)
    {
        _generations.Add(1, new KeyValuePair<string, object?>("status", status));
        if (_generationDuration.Enabled)
        {
            _generationDuration.Record(elapsed.TotalSeconds, new KeyValuePair<string, object?>("provider", provider), new KeyValuePair<string, object?>("model", model));
        }
    }

    public void Reconnect() => _reconnects.Add(1);

    /// <summary>One SSE response ended; <paramref name="reason"/> is one of API.md's fixed labels.</summary>
    public void Disconnected(string reason) => _disconnects.Add(1, new KeyValuePair<string, object?>("reason", reason));

    public void ResumeFailed(string reason) => _resumeFailures.Add(1, new KeyValuePair<string, object?>("reason", reason));

    public void HttpRequest(string route, int status)
    {
        if (_httpRequests.Enabled)
        {
            _httpRequests.Add(1, new KeyValuePair<string, object?>("route", route), new KeyValuePair<string, object?>("status", status));
        }
    }

    /// <summary>Adds per-type counts gathered by a session; called once per flush, not per event.</summary>
    internal void EventsSent(Span<int> countsByType)
    {
        if (!_eventsSent.Enabled)
        {
            countsByType.Clear();
            return;
        }

        for (var i = 0; i < countsByType.Length; i++)
        {
            if (countsByType[i] > 0)
            {
                _eventsSent.Add(countsByType[i], new KeyValuePair<string, object?>("type", EventTypeLabels[i]));
                countsByType[i] = 0;
            }
        }
    }

    internal static int TypeIndex(string type) => type switch
    {
        EventTypes.Token => 0,
        EventTypes.Tool => 1,
        EventTypes.Citation => 2,
        EventTypes.Done => 3,
        EventTypes.Error or EventTypes.StoreLostEvents => 4,
        EventTypes.Heartbeat => 5,
        EventTypes.SafeResponse => 6,
        _ => 7,
    };
}
