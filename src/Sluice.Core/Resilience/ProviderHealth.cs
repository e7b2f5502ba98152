namespace Sluice.Resilience;

/// <summary>
/// What live traffic says about one provider over the last five minutes: attempts, failures and the times to
/// first token. Bounded: at most <see cref="MaxSamples"/> outcomes are kept, the oldest go first.
/// </summary>
internal sealed class ProviderHealth(TimeProvider time)
{
    private const int MaxSamples = 10_000;
    private static readonly TimeSpan Window = TimeSpan.FromMinutes(5);
    private readonly Queue<(long At, bool Ok, double? TtftMs)> _samples = new();
    private readonly object _lock = new();

    public void Record(bool ok, double? ttftMs)
    {
        lock (_lock)
        {
            _samples.Enqueue((time.GetTimestamp(), ok, ttftMs));
            Trim();
        }
    }

    public HealthSnapshot Snapshot()
    {
        lock (_lock)
        {
            Trim();
            var total = _samples.Count;
            var ok = 0;
            var ttfts = new List<double>(total);
            foreach (var (_, success, ttft) in _samples)
            {
                if (success)
                {
                    ok++;
                }

                if (ttft is { } t)
                {
                    ttfts.Add(t);
                }
            }

            ttfts.Sort();
            double? p95 = ttfts.Count == 0 ? null : ttfts[Math.Min(ttfts.Count - 1, (int)Math.Ceiling(ttfts.Count * 0.95) - 1)];
            return new HealthSnapshot(total, total - ok, total == 0 ? null : (double)ok / total, p95);
        }
    }

    private void Trim()
    {
        while (_samples.Count > MaxSamples || (_samples.Count > 0 && time.GetElapsedTime(_samples.Peek().At) > Window))
        {
            _samples.Dequeue();
        }
    }
}

/// <summary>Attempts and failures in the window, the success rate (null without traffic) and the p95 time to first token.</summary>
internal readonly record struct HealthSnapshot(int Attempts, int Failures, double? SuccessRate, double? P95TtftMs);
