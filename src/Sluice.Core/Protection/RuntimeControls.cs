using Microsoft.Extensions.Options;
using Sluice.Configuration;

namespace Sluice.Protection;

/// <summary>
/// The levers an operator pulls at run time (API.md section 7): the emergency rate limit, shed endpoints and
/// runtime limits over the configured ones. Each node holds its own copy; in cluster mode the admin API publishes
/// every change on the cluster's change bus and the other nodes' ControlSync applies it here.
/// </summary>
internal sealed class RuntimeControls
{
    private readonly IOptionsMonitor<SluiceOptions> _options;
    private readonly object _lock = new();
    private volatile EmergencyRateLimit? _emergency;
    private volatile string[] _shed = [];
    // 0: not overridden, the configured value holds.
    private int _maxConcurrentGenerations;
    private int _maxSseConnections;
    private int _maxStreamsPerTenant;
    private TaskCompletionSource _limitsChanged = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _version;

    public RuntimeControls(IOptionsMonitor<SluiceOptions> options)
    {
        _options = options;
    }

    /// <summary>Changes whenever a rate limit changes, so rate-limiter partitions keyed by it start afresh.</summary>
    public int RateLimitVersion => Volatile.Read(ref _version);

    public EmergencyRateLimit? Emergency => _emergency;

    /// <summary>Path prefixes answered with 503 while shed.</summary>
    public IReadOnlyList<string> ShedEndpoints => _shed;

    public int MaxConcurrentGenerations => Override(ref _maxConcurrentGenerations) ?? _options.CurrentValue.Limits.MaxConcurrentGenerations;

    public int MaxSseConnections => Override(ref _maxSseConnections) ?? _options.CurrentValue.Limits.MaxSseConnections;

    public int MaxStreamsPerTenant => Override(ref _maxStreamsPerTenant) ?? _options.CurrentValue.Limits.MaxStreamsPerTenant;

    private static int? Override(ref int field) => Volatile.Read(ref field) is > 0 and var value ? value : null;

    public int MaxGenerationsPerTenant => _options.CurrentValue.Limits.MaxGenerationsPerTenant;

    /// <summary>The limit every tenant's requests are held to now: the emergency one while set, else the configured one.</summary>
    public (int RequestsPerMinute, int Burst) RequestRate => _emergency is { } e
        ? (e.RequestsPerMinute, e.Burst)
        : (_options.CurrentValue.Limits.RequestsPerMinute, _options.CurrentValue.Limits.RequestBurst);

    /// <summary>Completes when runtime limits change (workers above a lowered limit wait on it).</summary>
    public Task LimitsChanged
    {
        get
        {
            lock (_lock)
            {
                return _limitsChanged.Task;
            }
        }
    }

    public void SetEmergency(EmergencyRateLimit? limit)
    {
        _emergency = limit;
        Interlocked.Increment(ref _version);
    }

    /// <summary>Adds (enable) or removes (disable) shed prefixes; returns the shed list after the change.</summary>
    public IReadOnlyList<string> Shed(IEnumerable<string> endpoints, bool enable)
    {
        lock (_lock)
        {
            var set = new SortedSet<string>(_shed, StringComparer.Ordinal);
            foreach (var endpoint in endpoints)
            {
                if (enable)
                {
                    set.Add(endpoint);
                }
                else
                {
                    set.Remove(endpoint);
                }
            }

            _shed = [.. set];
            return _shed;
        }
    }

    /// <summary>The overrides as set (0: the configured value holds), as the cluster shares them.</summary>
    public LimitOverrides Overrides => new(Volatile.Read(ref _maxConcurrentGenerations), Volatile.Read(ref _maxSseConnections), Volatile.Read(ref _maxStreamsPerTenant));

    /// <summary>Takes another node's shed list whole.</summary>
    public void ReplaceShed(IEnumerable<string> endpoints)
    {
        lock (_lock)
        {
            _shed = [.. new SortedSet<string>(endpoints, StringComparer.Ordinal)];
        }
    }

    /// <summary>Takes another node's overrides whole (0 clears one).</summary>
    public void ReplaceLimits(LimitOverrides overrides)
    {
        lock (_lock)
        {
            Volatile.Write(ref _maxConcurrentGenerations, Math.Max(0, overrides.MaxConcurrentGenerations));
            Volatile.Write(ref _maxSseConnections, Math.Max(0, overrides.MaxSseConnections));
            Volatile.Write(ref _maxStreamsPerTenant, Math.Max(0, overrides.MaxStreamsPerTenant));
        }

        SetLimits(null, null, null);
    }

    public void SetLimits(int? maxConcurrentGenerations, int? maxSseConnections, int? maxStreamsPerTenant)
    {
        TaskCompletionSource changed;
        lock (_lock)
        {
            if (maxConcurrentGenerations is { } g)
            {
                Volatile.Write(ref _maxConcurrentGenerations, g);
            }

            if (maxSseConnections is { } c)
            {
                Volatile.Write(ref _maxSseConnections, c);
            }

            if (maxStreamsPerTenant is { } s)
            {
                Volatile.Write(ref _maxStreamsPerTenant, s);
            }

            changed = _limitsChanged;
            _limitsChanged = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        changed.TrySetResult();
    }

    public bool IsShed(string path)
    {
        foreach (var prefix in _shed)
        {
            if (path.StartsWith(prefix, StringComparison.OrdinalIgnoreCase)
                && (path.Length == prefix.Length || path[prefix.Length] == '/' || prefix.EndsWith('/')))
            {
                return true;
            }
        }

        return false;
    }
}

/// <summary>Runtime limit overrides; 0 leaves the configured value.</summary>
internal sealed record LimitOverrides(int MaxConcurrentGenerations, int MaxSseConnections, int MaxStreamsPerTenant);

/// <summary><c>POST /v1/admin/rate-limit/emergency {"requests_per_minute","burst"}</c>: every tenant's requests, until lifted.</summary>
internal sealed record EmergencyRateLimit(int RequestsPerMinute, int Burst, DateTimeOffset Since);
