using System.Diagnostics;

namespace Sluice.Load;

internal static class Stats
{
    public static double Ms(long stopwatchTicks) => stopwatchTicks * 1000.0 / Stopwatch.Frequency;

    public static (double P50, double P99, double Max) Percentiles(List<double> values)
    {
        if (values.Count == 0)
        {
            return (double.NaN, double.NaN, double.NaN);
        }

        values.Sort();
        double At(double q) => values[Math.Min(values.Count - 1, (int)(q * values.Count))];
        return (Math.Round(At(0.5), 2), Math.Round(At(0.99), 2), Math.Round(values[^1], 2));
    }

    /// <summary>CPU seconds (user + system) used so far by the given processes and their descendants (Linux /proc).</summary>
    public static double CpuSeconds(IEnumerable<int> pids)
    {
        var all = new HashSet<int>();
        foreach (var pid in pids)
        {
            Collect(pid, all);
        }

        long ticks = 0;
        foreach (var pid in all)
        {
            try
            {
                var stat = File.ReadAllText($"/proc/{pid}/stat");
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                ticks += long.Parse(fields[11], System.Globalization.CultureInfo.InvariantCulture) + long.Parse(fields[12], System.Globalization.CultureInfo.InvariantCulture);
            }
            catch (IOException)
            {
            }
        }

        return ticks / 100.0; // USER_HZ is 100 on Linux
    }

    /// <summary>Resident memory of the given processes and all their descendants, in KiB (Linux /proc).</summary>
    public static long RssKiB(IEnumerable<int> pids)
    {
        var all = new HashSet<int>();
        foreach (var pid in pids)
        {
            Collect(pid, all);
        }

        long total = 0;
        foreach (var pid in all)
        {
            try
            {
                foreach (var line in File.ReadLines($"/proc/{pid}/status"))
                {
                    if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                    {
                        total += long.Parse(line.AsSpan(6).Trim().TrimEnd(" kB"), System.Globalization.CultureInfo.InvariantCulture);
                    }
                }
            }
            catch (IOException)
            {
            }
        }

        return total;
    }

    private static void Collect(int pid, HashSet<int> into)
    {
        if (!into.Add(pid))
        {
            return;
        }

        try
        {
            foreach (var task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
            {
                var children = Path.Combine(task, "children");
                if (!File.Exists(children))
                {
                    continue;
                }

                foreach (var child in File.ReadAllText(children).Split(' ', StringSplitOptions.RemoveEmptyEntries))
                {
                    Collect(int.Parse(child, System.Globalization.CultureInfo.InvariantCulture), into);
                }
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
