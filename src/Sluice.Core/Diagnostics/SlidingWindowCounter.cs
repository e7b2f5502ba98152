namespace Sluice.Diagnostics;

/// <summary>Counts events over the last few minutes in one-second buckets (for <c>reconnects_5m</c>).</summary>
internal sealed class SlidingWindowCounter(TimeProvider time, TimeSpan window)
{
    private readonly int _seconds = (int)Math.Max(1, window.TotalSeconds);
    private readonly long[] _stamps = new long[(int)Math.Max(1, window.TotalSeconds)];
    private readonly long[] _counts = new long[(int)Math.Max(1, window.TotalSeconds)];

    public void Increment()
    {
        var second = time.GetUtcNow().ToUnixTimeSeconds();
        var slot = (int)(second % _seconds);
        lock (_counts)
        {
            if (_stamps[slot] != second)
            {
                _stamps[slot] = second;
                _counts[slot] = 0;
            }

            _counts[slot]++;
        }
    }

    public long Total()
    {
        var now = time.GetUtcNow().ToUnixTimeSeconds();
        long total = 0;
        lock (_counts)
        {
            for (var i = 0; i < _seconds; i++)
            {
                if (now - _stamps[i] < _seconds)
                {
                    total += _counts[i];
                }
            }
        }

        return total;
    }
}
