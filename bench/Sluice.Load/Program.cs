using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using Sluice.Load;

// sseload for Sluice and its peers. Loopback only; every loop is bounded in count and time.
// usage: Sluice.Load <idle|fanout|burst|publish|streams|generations|overhead|ops-seed|ops> --target sluice|peer-a|peer-b --url http://127.0.0.1:PORT
//        [--key KEY] [--pids 123,456] [--store-pids 789] [scenario options]; prints one JSON line.
var options = ParseArgs(args);
if (options.Count == 0 || !options.ContainsKey("scenario"))
{
    Console.Error.WriteLine("usage: Sluice.Load <idle|fanout|burst|publish|streams> --target sluice|peer-a|peer-b --url http://127.0.0.1:PORT [--key K] [--subscribe-url U,...] [--pids P,...] [--store-pids P,...] [--subscribers N] [--rate R] [--duration S] [--history H] [--connections N] [--streams M] [--concurrency C] [--count N]");
    return 2;
}

var target = Target.Create(Opt("target", "sluice"), Opt("url", "http://127.0.0.1:8080"), options.GetValueOrDefault("key") ?? Environment.GetEnvironmentVariable("SLUICE_KEY"),
    options.GetValueOrDefault("subscribe-url"));
var pids = Opt("pids", "").Split(',', StringSplitOptions.RemoveEmptyEntries).Select(p => int.Parse(p, CultureInfo.InvariantCulture)).ToArray();

// The store's processes (a redis-server), counted apart from the server's: CPU per unit of work is both.
var storePids = Opt("store-pids", "").Split(',', StringSplitOptions.RemoveEmptyEntries).Select(p => int.Parse(p, CultureInfo.InvariantCulture)).ToArray();
using var handler = new SocketsHttpHandler
{
    MaxConnectionsPerServer = int.MaxValue,
    PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
    PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
    ConnectTimeout = TimeSpan.FromSeconds(30),
    AutomaticDecompression = DecompressionMethods.None,
    UseProxy = false,
};
using var http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
var run = $"{Opt("scenario", "")}-{DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()}";

// Warm-up, the same for every target: a fresh .NET server compiles its hot paths in the first seconds
// (tiered JIT), which a Python or Node peer does not; measuring that would measure start-up, not serving.
await WarmUpAsync(Int("warmup", 10000));
var serverCpuStart = Stats.CpuSeconds(pids);
var storeCpuStart = Stats.CpuSeconds(storePids);
var clientCpuStart = Process.GetCurrentProcess().TotalProcessorTime;
var wallStart = Stopwatch.StartNew();
object result = Opt("scenario", "") switch
{
    "idle" => await IdleAsync(),
    "fanout" => await FanoutAsync(),
    "burst" => await BurstAsync(),
    "publish" => await PublishRateAsync(),
    "streams" => await StreamsAsync(),
    "generations" => await GenerationScenarios.GenerationsAsync(http, Opt("url", ""), target.Key!, Int("concurrency", 64), TimeSpan.FromSeconds(Int("duration", 10)), Int("tokens", 16)),
    "ops-seed" => await OpsScenarios.SeedAsync(Opt("data-dir", ""), Int("events", 1_000_000), Int("days", 30), Int("tenants", 50), Int("channels", 4)),
    "ops" => await OpsScenarios.QueryAsync(http, Opt("url", ""), target.Key!, Int("events", 1_000_000), Int("days", 30), Int("count", 300)),
    "overhead" => await GenerationScenarios.OverheadAsync(http, Opt("url", ""), target.Key!, Int("count", 500), Int("upstream-port", 18090)),
    var other => throw new ArgumentException($"unknown scenario '{other}'"),
};
var usage = new
{
    wall_seconds = Math.Round(wallStart.Elapsed.TotalSeconds, 1),
    server_cpu_seconds = Math.Round(Stats.CpuSeconds(pids) - serverCpuStart, 1),
    store_cpu_seconds = storePids.Length == 0 ? (double?)null : Math.Round(Stats.CpuSeconds(storePids) - storeCpuStart, 2),
    client_cpu_seconds = Math.Round((Process.GetCurrentProcess().TotalProcessorTime - clientCpuStart).TotalSeconds, 1),
};
var merged = JsonSerializer.SerializeToNode(result)!.AsObject();
foreach (var (name, value) in JsonSerializer.SerializeToNode(usage)!.AsObject().ToList())
{
    merged[name] = value?.DeepClone();
}

Console.WriteLine(merged.ToJsonString());
return 0;

// N idle subscribers over M streams: connections held and server memory per connection.
async Task<object> IdleAsync()
{
    var connections = Int("connections", 10_000);
    var streams = Int("streams", 100);
    var hold = TimeSpan.FromSeconds(Int("hold", 10));
    for (var s = 0; s < streams; s++)
    {
        await PublishAsync($"{run}-{s}", 0, CancellationToken.None);
    }

    await Task.Delay(TimeSpan.FromSeconds(2));
    var before = Stats.RssKiB(pids);
    using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(5));
    var held = 0;
    var failed = 0;
    var gate = new SemaphoreSlim(256);
    var tasks = new List<Task>(connections);
    var opened = new ConcurrentBag<HttpResponseMessage>();
    for (var i = 0; i < connections; i++)
    {
        await gate.WaitAsync(stop.Token);
        var topic = $"{run}-{i % streams}";
        tasks.Add(Task.Run(async () =>
        {
            try
            {
                var response = await http.SendAsync(target.Subscribe(topic, null), HttpCompletionOption.ResponseHeadersRead, stop.Token);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    opened.Add(response);
                    Interlocked.Increment(ref held);
                }
                else
                {
                    Interlocked.Increment(ref failed);
                    response.Dispose();
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or IOException)
            {
                Interlocked.Increment(ref failed);
            }
            finally
            {
                gate.Release();
            }
        }));
    }

    await Task.WhenAll(tasks);
    await Task.Delay(hold);
    var after = Stats.RssKiB(pids);
    foreach (var response in opened)
    {
        response.Dispose();
    }

    return new
    {
        scenario = "idle", target = target.Name, connections, streams, held, failed,
        server_rss_before_kib = before, server_rss_after_kib = after,
        server_kib_per_connection = held == 0 || pids.Length == 0 ? double.NaN : Math.Round((after - before) / (double)held, 2),
    };
}

// S subscribers on one stream, publisher at R events/s for D seconds: delivery latency, loss, duplicates.
async Task<object> FanoutAsync()
{
    var subscribers = Int("subscribers", 2000);
    var rate = Int("rate", 200);
    var duration = Int("duration", 10);
    var topic = run;
    var events = rate * duration;
    await PublishAsync(topic, 0, CancellationToken.None);
    using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(duration + 120));
    var latencies = new ConcurrentBag<List<double>>();
    long missing = 0, duplicates = 0, disconnected = 0;
    var connected = 0;
    var subs = Enumerable.Range(0, subscribers).Select(_ => Task.Run(async () =>
    {
        var seen = new bool[events + 1];
        var mine = new List<double>(events);
        latencies.Add(mine);
        var count = 0;
        try
        {
            using var response = await http.SendAsync(target.Subscribe(topic, null), HttpCompletionOption.ResponseHeadersRead, stop.Token);
            await using var body = await response.Content.ReadAsStreamAsync(stop.Token);
            Interlocked.Increment(ref connected);
            await new SseLoadReader().RunAsync(body, (n, t, now) =>
            {
                if (n == 0)
                {
                    return true;
                }

                if (seen[n])
                {
                    Interlocked.Increment(ref duplicates);
                }

                seen[n] = true;
                count++;
                mine.Add(Stats.Ms(now - t));
                return count < events;
            }, stop.Token);
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or IOException)
        {
            Interlocked.Increment(ref disconnected);
        }

        Interlocked.Add(ref missing, events - count);
    })).ToArray();

    var waitStart = Stopwatch.StartNew();
    while (Volatile.Read(ref connected) < subscribers && waitStart.Elapsed < TimeSpan.FromSeconds(60))
    {
        await Task.Delay(50);
    }

    var published = await PaceAsync(topic, events, rate, stop.Token);
    var drained = Task.WhenAll(subs);
    await Task.WhenAny(drained, Task.Delay(TimeSpan.FromSeconds(30)));
    await stop.CancelAsync();
    await Task.WhenAll(subs);
    var all = latencies.SelectMany(l => l).ToList();
    var (p50, p99, max) = Stats.Percentiles(all);
    return new
    {
        scenario = "fanout", target = target.Name, subscribers, connected, rate, duration, events, published,
        expected = (long)events * subscribers, delivered = all.Count, missing, duplicates, disconnected,
        latency_ms_p50 = p50, latency_ms_p99 = p99, latency_ms_max = max,
    };
}

// S subscribers connecting at once, each replaying H events: time until each has the whole history.
async Task<object> BurstAsync()
{
    var subscribers = Int("subscribers", 2000);
    var history = Int("history", 1000);
    var topic = run;
    var padding = new string('x', 80);
    using (var gate = new SemaphoreSlim(32))
    {
        await Task.WhenAll(Enumerable.Range(1, history).Select(async n =>
        {
            await gate.WaitAsync();
            try
            {
                await PublishAsync(topic, n, CancellationToken.None, padding);
            }
            finally
            {
                gate.Release();
            }
        }));
    }

    using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(120));
    var times = new ConcurrentBag<double>();
    var statuses = new ConcurrentDictionary<string, int>();
    var start = Stopwatch.GetTimestamp();
    await Task.WhenAll(Enumerable.Range(0, subscribers).Select(_ => Task.Run(async () =>
    {
        try
        {
            using var response = await http.SendAsync(target.Subscribe(topic, null), HttpCompletionOption.ResponseHeadersRead, stop.Token);
            statuses.AddOrUpdate(((int)response.StatusCode).ToString(CultureInfo.InvariantCulture), 1, (_, c) => c + 1);
            await using var body = await response.Content.ReadAsStreamAsync(stop.Token);
            var seen = 0;
            await new SseLoadReader().RunAsync(body, (n, t, now) =>
            {
                seen++;
                if (seen == history)
                {
                    times.Add(Stats.Ms(now - start));
                    return false;
                }

                return true;
            }, stop.Token);
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or IOException)
        {
            statuses.AddOrUpdate(ex.GetType().Name, 1, (_, c) => c + 1);
        }
    })));
    var (p50, p99, max) = Stats.Percentiles([.. times]);
    return new
    {
        scenario = "burst", target = target.Name, subscribers, history, statuses, full_replays = times.Count,
        replay_ms_p50 = p50, replay_ms_p99 = p99, replay_ms_max = max,
    };
}

// Durable single-event publishes with C in flight.
async Task<object> PublishRateAsync()
{
    var concurrency = Int("concurrency", 32);
    var count = Int("count", 20_000);
    var topics = Int("topics", 1);
    for (var i = 0; i < topics; i++)
    {
        await PublishAsync($"{run}-{i}", 0, CancellationToken.None);
    }

    var next = 0;
    var failed = 0;
    var latencies = new ConcurrentBag<double>();
    var watch = Stopwatch.StartNew();
    await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
    {
        int n;
        while ((n = Interlocked.Increment(ref next)) <= count)
        {
            var t0 = Stopwatch.GetTimestamp();
            if (!await PublishAsync($"{run}-{n % topics}", n, CancellationToken.None))
            {
                Interlocked.Increment(ref failed);
            }

            latencies.Add(Stats.Ms(Stopwatch.GetTimestamp() - t0));
        }
    })));
    watch.Stop();
    var (p50, p99, max) = Stats.Percentiles([.. latencies]);
    return new
    {
        scenario = "publish", target = target.Name, concurrency, count, topics, failed,
        publishes_per_second = Math.Round(count / watch.Elapsed.TotalSeconds),
        latency_ms_p50 = p50, latency_ms_p99 = p99, latency_ms_max = max,
    };
}

// M streams with one subscriber each, every stream published at R events/s for D seconds.
async Task<object> StreamsAsync()
{
    var streams = Int("streams", 2000);
    var rate = Int("rate", 20);
    var duration = Int("duration", 10);
    var events = rate * duration;
    using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(duration + 180));
    using (var gate = new SemaphoreSlim(64))
    {
        await Task.WhenAll(Enumerable.Range(0, streams).Select(async s =>
        {
            await gate.WaitAsync();
            try
            {
                await PublishAsync($"{run}-{s}", 0, CancellationToken.None);
            }
            finally
            {
                gate.Release();
            }
        }));
    }

    var latencies = new ConcurrentBag<List<double>>();
    long delivered = 0, duplicates = 0;
    var connected = 0;
    var subs = Enumerable.Range(0, streams).Select(s => Task.Run(async () =>
    {
        var seen = new bool[events + 1];
        var mine = new List<double>(events);
        latencies.Add(mine);
        try
        {
            using var response = await http.SendAsync(target.Subscribe($"{run}-{s}", null), HttpCompletionOption.ResponseHeadersRead, stop.Token);
            await using var body = await response.Content.ReadAsStreamAsync(stop.Token);
            Interlocked.Increment(ref connected);
            var count = 0;
            await new SseLoadReader().RunAsync(body, (n, t, now) =>
            {
                if (n == 0)
                {
                    return true;
                }

                if (seen[n])
                {
                    Interlocked.Increment(ref duplicates);
                }

                seen[n] = true;
                count++;
                Interlocked.Increment(ref delivered);
                mine.Add(Stats.Ms(now - t));
                return count < events;
            }, stop.Token);
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or IOException)
        {
        }
    })).ToArray();
    var waitStart = Stopwatch.StartNew();
    while (Volatile.Read(ref connected) < streams && waitStart.Elapsed < TimeSpan.FromSeconds(60))
    {
        await Task.Delay(50);
    }

    // One pacer per tick: every stream gets its n-th event in each 1/R s slot. A target that cannot keep
    // the rate is not waited for: publishing stops at twice the planned duration, and delivery is judged
    // against what was published.
    var watch = Stopwatch.StartNew();
    var deadline = TimeSpan.FromSeconds(duration * 2);
    var published = 0L;
    var inflight = new SemaphoreSlim(512);
    var pending = new List<Task>();
    for (var n = 1; n <= events && watch.Elapsed < deadline; n++)
    {
        var due = TimeSpan.FromSeconds((n - 1) / (double)rate);
        if (due > watch.Elapsed)
        {
            await Task.Delay(due - watch.Elapsed);
        }

        for (var s = 0; s < streams && watch.Elapsed < deadline; s++)
        {
            await inflight.WaitAsync(stop.Token);
            var topic = $"{run}-{s}";
            var seq = n;
            pending.Add(Task.Run(async () =>
            {
                try
                {
                    if (await PublishAsync(topic, seq, stop.Token))
                    {
                        Interlocked.Increment(ref published);
                    }
                }
                finally
                {
                    inflight.Release();
                }
            }));
        }
    }

    await Task.WhenAll(pending);
    var publishSeconds = watch.Elapsed.TotalSeconds;
    var drainStart = Stopwatch.StartNew();
    while (Interlocked.Read(ref delivered) < Interlocked.Read(ref published) && drainStart.Elapsed < TimeSpan.FromSeconds(30))
    {
        await Task.Delay(50);
    }

    await stop.CancelAsync();
    await Task.WhenAll(subs);
    var all = latencies.SelectMany(l => l).ToList();
    var (p50, p99, max) = Stats.Percentiles(all);
    return new
    {
        scenario = "streams", target = target.Name, streams, connected, rate, duration,
        planned = (long)events * streams, published, achieved_publish_rate = Math.Round(published / publishSeconds),
        delivered, missing = published - delivered, duplicates, latency_ms_p50 = p50, latency_ms_p99 = p99, latency_ms_max = max,
    };
}

async Task WarmUpAsync(int events)
{
    if (events <= 0)
    {
        return;
    }

    var topic = $"{run}-warmup";
    var next = 0;
    await Task.WhenAll(Enumerable.Range(0, 32).Select(_ => Task.Run(async () =>
    {
        int n;
        while ((n = Interlocked.Increment(ref next)) <= events)
        {
            await PublishAsync(topic, n, CancellationToken.None);
        }
    })));
    using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
    await Task.WhenAll(Enumerable.Range(0, 200).Select(_ => Task.Run(async () =>
    {
        try
        {
            using var response = await http.SendAsync(target.Subscribe(topic, null), HttpCompletionOption.ResponseHeadersRead, stop.Token);
            await using var body = await response.Content.ReadAsStreamAsync(stop.Token);
            var seen = 0;
            await new SseLoadReader().RunAsync(body, (_, _, _) => ++seen < events, stop.Token);
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or IOException)
        {
        }
    })));
    await Task.Delay(TimeSpan.FromSeconds(2));
}

// Publishes n events at a fixed rate without waiting for each answer (like a producer that does not stall).
async Task<long> PaceAsync(string topic, int events, int rate, CancellationToken ct)
{
    var watch = Stopwatch.StartNew();
    long ok = 0;
    var pending = new List<Task>(events);
    for (var n = 1; n <= events; n++)
    {
        var due = TimeSpan.FromSeconds((n - 1) / (double)rate);
        if (due > watch.Elapsed)
        {
            await Task.Delay(due - watch.Elapsed, ct);
        }

        var seq = n;
        pending.Add(Task.Run(async () =>
        {
            if (await PublishAsync(topic, seq, ct))
            {
                Interlocked.Increment(ref ok);
            }
        }, ct));
    }

    await Task.WhenAll(pending);
    return ok;
}

async Task<bool> PublishAsync(string topic, long n, CancellationToken ct, string? padding = null)
{
    var payload = padding is null
        ? $"{{\"t\":{Stopwatch.GetTimestamp()},\"n\":{n}}}"
        : $"{{\"t\":{Stopwatch.GetTimestamp()},\"n\":{n},\"p\":\"{padding}\"}}";
    try
    {
        using var response = await http.SendAsync(target.Publish(topic, payload), ct);
        return response.StatusCode == HttpStatusCode.Created;
    }
    catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or IOException)
    {
        return false;
    }
}

string Opt(string name, string fallback) => options.GetValueOrDefault(name) ?? fallback;

int Int(string name, int fallback) => options.TryGetValue(name, out var v) ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;

static Dictionary<string, string> ParseArgs(string[] args)
{
    var result = new Dictionary<string, string>();
    for (var i = 0; i < args.Length; i++)
    {
        if (args[i].StartsWith("--", StringComparison.Ordinal) && i + 1 < args.Length)
        {
            result[args[i][2..]] = args[++i];
        }
        else if (!args[i].StartsWith("--", StringComparison.Ordinal))
        {
            result["scenario"] = args[i];
        }
    }

    return result;
}
