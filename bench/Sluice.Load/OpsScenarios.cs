using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using Microsoft.Extensions.Logging.Abstractions;
using Sluice.Ops;
using Sluice.Storage.Sqlite;

namespace Sluice.Load;

/// <summary>
/// Issue 5's benchmark: trace search and the metrics summary over a store holding 1,000,000 trace events and
/// 30 days of hourly rows. <see cref="SeedAsync"/> fills a data directory through Sluice's own SQLite stores
/// (the schema and write path Sluice uses); <see cref="QueryAsync"/> then times the HTTP calls an on-call
/// engineer makes, one at a time, against a Sluice started on that directory.
/// </summary>
internal static class OpsScenarios
{
    private static readonly string[] Kinds =
    [
        "sse_resume_failed", "sse_resume_failed", "sse_resume_failed", "sse_resume_failed",
        "provider_timeout", "provider_timeout", "provider_unavailable", "provider_unavailable", "contract_violation", "provider_killed",
    ];

    /// <summary>The trace id of seeded event <paramref name="i"/>: W3C-shaped, unique, and recomputable by the query side.</summary>
    public static string TraceId(long i) => string.Create(CultureInfo.InvariantCulture, $"{(ulong)i * 11400714819323198485UL:x16}{i:x16}");

    /// <summary>Three events per generation, as a failing-then-falling-back run records.</summary>
    public static string GenerationId(long i) => string.Create(CultureInfo.InvariantCulture, $"gen_bench{i / 3:D10}");

    public static async Task<object> SeedAsync(string dataDir, int events, int days, int tenants, int channels)
    {
        var started = Stopwatch.StartNew();
        var now = DateTimeOffset.UtcNow;
        var span = TimeSpan.FromDays(days) - TimeSpan.FromHours(2); // inside Sluice:Retention:TraceEvents, so nothing is swept mid-run
        await using var db = new SqliteDatabase(Path.Combine(dataDir, "sluice.db"), "normal", NullLogger<SqliteDatabase>.Instance);
        var traces = new SqliteTraceLog(db);
        const int Batch = 20_000;
        for (var start = 0; start < events; start += Batch)
        {
            var writes = new List<Task>(Batch);
            for (var i = start; i < Math.Min(events, start + Batch); i++)
            {
                // Oldest first, evenly over the span, as they would have been recorded.
                var at = now - span + TimeSpan.FromTicks((long)((double)span.Ticks * i / events));
                writes.Add(traces.AppendAsync(new TraceEvent(0, at, Kinds[i % Kinds.Length], TraceId(i), "tenant-" + (i / 10 % tenants).ToString("D3", CultureInfo.InvariantCulture),
                    GenerationId(i), $"bench/default: seeded event {i}, the kind of detail line Sluice records."), CancellationToken.None).AsTask());
            }

            await Task.WhenAll(writes);
        }

        var metrics = new SqliteOpsMetricsStore(db);
        var firstHour = new DateTimeOffset(now.Year, now.Month, now.Day, now.Hour, 0, 0, TimeSpan.Zero).AddDays(-days);
        var rows = 0;
        for (var h = 0; h < days * 24; h++)
        {
            var hour = new List<OpsMetricsRow>(tenants * channels);
            for (var t = 0; t < tenants; t++)
            {
                for (var c = 0; c < channels; c++)
                {
                    hour.Add(new OpsMetricsRow(firstHour.AddHours(h), "tenant-" + t.ToString("D3", CultureInfo.InvariantCulture), c == 0 ? "" : "channel-" + c.ToString(CultureInfo.InvariantCulture),
                        1000 + h, new Dictionary<string, long> { ["429"] = 3, ["503"] = 1 }, 400, 20, 1, 350.5, 2200.25, 90_000));
                }
            }

            await metrics.UpsertAsync(hour, CancellationToken.None);
            rows += hour.Count;
        }

        return new { scenario = "ops-seed", trace_events = events, hourly_rows = rows, days, seconds = Math.Round(started.Elapsed.TotalSeconds, 1) };
    }

    public static async Task<object> QueryAsync(HttpClient http, string url, string key, int events, int days, int count)
    {
        var now = DateTimeOffset.UtcNow;
        var random = new Random(5);
        var queries = new (string Name, Func<string> Path, string? Tenant)[]
        {
            ("traces_recent", () => "/v1/ops/traces", null),
            ("traces_common_kind", () => "/v1/ops/traces?keyword=sse_resume_failed", null),
            ("traces_common_kind_page_50", () => "/v1/ops/traces?keyword=sse_resume_failed&page=50&size=100", null),
            ("traces_common_kind_deepest_page_10000", () => "/v1/ops/traces?keyword=sse_resume_failed&page=9&size=1000", null),
            ("traces_rare_kind", () => "/v1/ops/traces?keyword=provider_killed&size=1000", null),
            ("traces_by_trace_id", () => "/v1/ops/traces?keyword=" + TraceId(random.NextInt64(events)), null),
            ("traces_by_generation", () => "/v1/ops/traces?keyword=" + GenerationId(random.NextInt64(events)), null),
            ("traces_kind_in_one_hour", () =>
            {
                var from = now.AddHours(-random.Next(1, (days * 24) - 2));
                return $"/v1/ops/traces?keyword=provider_timeout&from={Uri.EscapeDataString(from.ToString("O", CultureInfo.InvariantCulture))}&to={Uri.EscapeDataString(from.AddHours(1).ToString("O", CultureInfo.InvariantCulture))}";
            }, null),
            ("traces_one_tenant", () => "/v1/ops/traces", "tenant-007"),
            ("traces_common_kind_one_tenant", () => "/v1/ops/traces?keyword=sse_resume_failed", "tenant-007"),
            ("traces_common_kind_one_tenant_page_50", () => "/v1/ops/traces?keyword=sse_resume_failed&page=50&size=100", "tenant-007"),
            ("summary_100", () => "/v1/ops/metrics/summary?limit=100", null),
            ("summary_1000", () => "/v1/ops/metrics/summary?limit=1000", null),
            ("summary_one_tenant_100", () => "/v1/ops/metrics/summary?limit=100", "tenant-007"),
        };

        var results = new Dictionary<string, object>();
        foreach (var (name, path, tenant) in queries)
        {
            // A short warm-up per query shape (JIT, SQLite page cache), then the measured calls, one at a time.
            for (var i = 0; i < 20; i++)
            {
                await CallAsync(http, url, key, path(), tenant);
            }

            var samples = new List<double>(count);
            long items = 0;
            for (var i = 0; i < count; i++)
            {
                var p = path();
                var start = Stopwatch.GetTimestamp();
                items += await CallAsync(http, url, key, p, tenant);
                samples.Add(Stats.Ms(Stopwatch.GetTimestamp() - start));
            }

            var (p50, p99, max) = Stats.Percentiles(samples);
            results[name] = new { p50_ms = p50, p99_ms = p99, max_ms = max, avg_items = Math.Round((double)items / count, 1) };
        }

        return new { scenario = "ops", trace_events = events, days, calls_per_query = count, queries = results };
    }

    /// <summary>One call, read to its end; returns how many items its <c>data</c> array held (to see the query really matched).</summary>
    private static async Task<int> CallAsync(HttpClient http, string url, string key, string path, string? tenant)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url + path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        if (tenant is not null)
        {
            request.Headers.Add("X-Tenant-Key", tenant);
        }

        using var response = await http.SendAsync(request);
        var body = await response.Content.ReadAsByteArrayAsync();
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"{path}: {(int)response.StatusCode} {System.Text.Encoding.UTF8.GetString(body)}");
        }

        using var json = System.Text.Json.JsonDocument.Parse(body);
        return json.RootElement.GetProperty("data").GetArrayLength();
    }
}
