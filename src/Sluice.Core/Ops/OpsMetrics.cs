using System.Collections.Concurrent;

namespace Sluice.Ops;

/// <summary>One hourly row of <c>GET /v1/ops/metrics/summary</c> (API.md section 6).</summary>
internal sealed record OpsMetricsRow(
    DateTimeOffset Hour, string Tenant, string Channel, long Requests, IReadOnlyDictionary<string, long> ErrorsByStatus, long SseConnections,
    long ResumeAttempts, long ResumeFailures, double? TtftP95Ms, double? E2eP95Ms, long OutputTokens);

/// <summary>
/// Aggregates this node's traffic per hour, tenant and channel in memory, off the hot path's locks: counters
/// are interlocked, timing samples kept per row (bounded) for the p95s. <see cref="SnapshotAndTrim"/> turns
/// them into rows for the store; rows of past hours leave memory once written.
/// </summary>
internal sealed class OpsMetricsAggregator(TimeProvider time)
{
    private const int MaxSamples = 10_000;

    /// <summary>
    /// Distinct <c>channel</c> values one tenant gets rows for in one hour; the rest count as <see cref="OtherChannel"/>.
    /// A channel is whatever a client sends: without the cap each new value is a row in memory and 90 days of store.
    /// </summary>
    public const int MaxChannelsPerTenantHour = 64;

    public const string OtherChannel = "other";

    private readonly ConcurrentDictionary<(long Hour, string Tenant, string Channel), Bucket> _buckets = new();
    private readonly ConcurrentDictionary<(long Hour, string Tenant), int> _channels = new();

    public void Request(string tenant, int status)
    {
        var bucket = Get(tenant, "");
        Interlocked.Increment(ref bucket.Requests);
        if (status >= 400)
        {
            bucket.Errors.AddOrUpdate(status.ToString(System.Globalization.CultureInfo.InvariantCulture), 1, static (_, n) => n + 1);
        }
    }

    public void SseConnection(string tenant, bool resuming)
    {
        var bucket = Get(tenant, "");
        Interlocked.Increment(ref bucket.SseConnections);
        if (resuming)
        {
            Interlocked.Increment(ref bucket.ResumeAttempts);
        }
    }

    public void ResumeFailure(string tenant) => Interlocked.Increment(ref Get(tenant, "").ResumeFailures);

    public void Generation(string tenant, string? channel, long? ttftMs, long e2eMs, long outputTokens)
    {
        var bucket = GetChannel(tenant, channel ?? "");
        Interlocked.Add(ref bucket.OutputTokens, outputTokens);
        lock (bucket)
        {
            if (ttftMs is { } t && bucket.Ttft.Count < MaxSamples)
            {
                bucket.Ttft.Add(t);
            }

            if (bucket.E2e.Count < MaxSamples)
            {
                bucket.E2e.Add(e2eMs);
            }
        }
    }

    /// <summary>Every row held now; rows of hours before the current one are forgotten (they are final).</summary>
    public IReadOnlyList<OpsMetricsRow> SnapshotAndTrim()
    {
        var current = HourOf(time.GetUtcNow());
        var rows = new List<OpsMetricsRow>(_buckets.Count);
        foreach (var (key, bucket) in _buckets)
        {
            double? ttft, e2e;
            lock (bucket)
            {
                ttft = P95(bucket.Ttft);
                e2e = P95(bucket.E2e);
            }

            rows.Add(new OpsMetricsRow(DateTimeOffset.FromUnixTimeSeconds(key.Hour), key.Tenant, key.Channel, Interlocked.Read(ref bucket.Requests),
                new Dictionary<string, long>(bucket.Errors), Interlocked.Read(ref bucket.SseConnections), Interlocked.Read(ref bucket.ResumeAttempts),
                Interlocked.Read(ref bucket.ResumeFailures), ttft, e2e, Interlocked.Read(ref bucket.OutputTokens)));
            if (key.Hour < current)
            {
                _buckets.TryRemove(key, out _);
            }
        }

        foreach (var key in _channels.Keys)
        {
            if (key.Hour < current)
            {
                _channels.TryRemove(key, out _);
            }
        }

        return rows;
    }

    /// <summary>Nearest-rank p95, the same rule as provider health.</summary>
    public static double? P95(IReadOnlyCollection<long> values)
    {
        if (values.Count == 0)
        {
            return null;
        }

        var sorted = values.Order().ToArray();
        return sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(sorted.Length * 0.95) - 1)];
    }

    private Bucket GetChannel(string tenant, string channel)
    {
        var hour = HourOf(time.GetUtcNow());
        if (channel.Length == 0 || _buckets.ContainsKey((hour, tenant, channel)))
        {
            return Get(tenant, channel);
        }

        // A new channel this hour: counted, and past the cap folded into "other" (a race may let one or two more in).
        var count = _channels.AddOrUpdate((hour, tenant), 1, static (_, n) => n + 1);
        return Get(tenant, count <= MaxChannelsPerTenantHour ? channel : OtherChannel);
    }

    private Bucket Get(string tenant, string channel) => _buckets.GetOrAdd((HourOf(time.GetUtcNow()), tenant, channel), static _ => new Bucket());

    private static long HourOf(DateTimeOffset at) => at.ToUnixTimeSeconds() / 3600 * 3600;

    private sealed class Bucket
    {
        public long Requests;
        public long SseConnections;
        public long ResumeAttempts;
        public long ResumeFailures;
        public long OutputTokens;
        public readonly ConcurrentDictionary<string, long> Errors = new();
        public readonly List<long> Ttft = [];
        public readonly List<long> E2e = [];
    }
}
