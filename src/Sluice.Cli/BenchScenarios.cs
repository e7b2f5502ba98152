using System.Diagnostics;
using System.Text.Json;
using Sluice.Client;

namespace Sluice.Cli;

/// <summary>A bench run that could not go on; its message is the CLI's one line.</summary>
internal sealed class BenchException(string message) : Exception(message);

/// <summary>How far a bench run is, read by the progress bar from another thread.</summary>
internal sealed class BenchProgress
{
    private long _done;
    private long _total = 1;
    private string _stage = "starting";

    public string Stage { get => Volatile.Read(ref _stage); set => Volatile.Write(ref _stage, value); }

    public long Total { get => Interlocked.Read(ref _total); set => Interlocked.Exchange(ref _total, value); }

    public long Done => Interlocked.Read(ref _done);

    public void Start(string stage, long total)
    {
        Interlocked.Exchange(ref _done, 0);
        Total = total;
        Stage = stage;
    }

    public void Add(long n = 1) => Interlocked.Add(ref _done, n);
}

/// <summary>One line of the results: a stable key for <c>--json</c>, a label and unit for people; losses fail the run.</summary>
internal sealed record BenchRow(string Key, string Label, object? Value, string Unit, bool IsLoss = false);

internal sealed class BenchResult
{
    public List<BenchRow> Rows { get; } = [];

    public long Lost { get; private set; }

    public BenchResult Add(string key, string label, object? value, string unit = "")
    {
        Rows.Add(new BenchRow(key, label, value, unit));
        return this;
    }

    public BenchResult Loss(string key, string label, long value)
    {
        Rows.Add(new BenchRow(key, label, value, "", IsLoss: true));
        Lost += value;
        return this;
    }

    public BenchResult Latencies(string key, string label, List<double> samples)
    {
        samples.Sort();
        Add(key + "_p50_ms", label + " p50", Percentile(samples, 0.50), "ms");
        Add(key + "_p99_ms", label + " p99", Percentile(samples, 0.99), "ms");
        return Add(key + "_max_ms", label + " max", samples.Count == 0 ? double.NaN : Math.Round(samples[^1], 2), "ms");
    }

    private static double Percentile(List<double> sorted, double q) =>
        sorted.Count == 0 ? double.NaN : Math.Round(sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Count) - 1, 0, sorted.Count - 1)], 2);
}

/// <summary>
/// The scenarios of <c>sluice bench</c>, through Sluice.Client as an application would use it. Bounds: the options'
/// ranges and the products below keep memory (one latency sample per delivery) and time finite.
/// </summary>
internal static class BenchScenarios
{
    public const int MaxSubscribers = 10_000;
    public const long MaxLatencySamples = 5_000_000;
    public const long MaxReplayedEvents = 50_000_000;

    private static readonly SluiceClientOptions Patient = new() { MaxRetries = 3 };

    /// <summary>A tick of the bench publisher: its sequence number and when it was sent (this process's Stopwatch).</summary>
    private static SluicePublishEvent Tick(long seq, long t) => SluicePublishEvent.Create("x-bench", new { seq, t });

    public static async Task<BenchResult> FanoutAsync(HttpClient http, int subscribers, int rate, int duration, BenchProgress progress, CancellationToken cancellationToken)
    {
        var stream = StreamName("fanout");
        var publisher = new SluiceClient(http);
        var events = (long)rate * duration;
        await publisher.PublishAsync(stream, Tick(0, 0), cancellationToken);

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var connected = 0;
        var readers = new Reader[subscribers];
        progress.Start("connecting", subscribers);
        for (var i = 0; i < subscribers; i++)
        {
            readers[i] = new Reader(new SluiceClient(http, Patient), (int)Math.Min(events, 100_000));
            readers[i].Run(stream, stop.Token, onFirst: () =>
            {
                progress.Add();
                if (Interlocked.Increment(ref connected) == subscribers)
                {
                    ready.TrySetResult();
                }
            }, onEvent: () => progress.Add(), recordLatency: true);
        }

        try
        {
            await ready.Task.WaitAsync(TimeSpan.FromSeconds(60), cancellationToken);
        }
        catch (TimeoutException)
        {
            await stop.CancelAsync();
            throw new BenchException($"only {Volatile.Read(ref connected):N0} of {subscribers:N0} subscribers connected within 60 s");
        }

        progress.Start("publishing", events * subscribers);
        var started = Stopwatch.GetTimestamp();
        for (long k = 1; k <= events; k++)
        {
            // Paced against the start, not the previous publish, so a slow publish is caught up and the rate holds.
            var due = TimeSpan.FromSeconds(k / (double)rate) - Stopwatch.GetElapsedTime(started);
            if (due > TimeSpan.FromMilliseconds(1))
            {
                await Task.Delay(due, cancellationToken);
            }

            await publisher.PublishAsync(stream, Tick(k, Stopwatch.GetTimestamp()), cancellationToken);
        }

        var publishSeconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        await publisher.PublishAsync(stream, SluicePublishEvent.Create("done", new { finish_reason = "stop" }), cancellationToken);
        progress.Stage = "draining";
        await DrainAsync(readers, stop);

        var result = new BenchResult()
            .Add("subscribers", "subscribers", subscribers)
            .Add("events", "events published", events)
            .Add("publish_rate", "publish rate", Math.Round(events / publishSeconds, 1), "events/s")
            .Add("delivered", "deliveries", readers.Sum(r => r.Received), "")
            .Loss("missing", "missing", readers.Sum(r => Math.Max(0, events - r.Received)))
            .Loss("out_of_order", "out of order or twice", readers.Sum(r => r.OutOfOrder));
        result.Latencies("latency", "delivery latency", [.. readers.SelectMany(r => r.Latencies)]);
        return result.Add("reconnects", "reconnects", readers.Sum(r => r.Reconnects));
    }

    public static async Task<BenchResult> BurstAsync(HttpClient http, int subscribers, int history, BenchProgress progress, CancellationToken cancellationToken)
    {
        var stream = StreamName("burst");
        var publisher = new SluiceClient(http);
        progress.Start("publishing history", history);
        for (var k = 1; k <= history; k += 100)
        {
            var batch = Enumerable.Range(k, Math.Min(100, history - k + 1)).Select(n => Tick(n, 0)).ToList();
            await publisher.PublishBatchAsync(stream, batch, cancellationToken);
            progress.Add(batch.Count);
        }

        await publisher.PublishAsync(stream, SluicePublishEvent.Create("done", new { finish_reason = "stop" }), cancellationToken);

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        progress.Start("replaying", (long)history * subscribers);
        var started = Stopwatch.GetTimestamp();
        var readers = new Reader[subscribers];
        for (var i = 0; i < subscribers; i++)
        {
            readers[i] = new Reader(new SluiceClient(http, Patient), 0, started, firstSeq: 1);
            readers[i].Run(stream, stop.Token, onFirst: () => { }, onEvent: () => progress.Add(), recordLatency: false);
        }

        await DrainAsync(readers, stop);
        var wall = Stopwatch.GetElapsedTime(started).TotalSeconds;
        var replayed = readers.Sum(r => r.Received);
        var result = new BenchResult()
            .Add("subscribers", "subscribers", subscribers)
            .Add("history", "history per subscriber", (long)history)
            .Add("replayed", "events replayed", replayed)
            .Add("replay_rate", "replay rate", Math.Round(replayed / wall, 0), "events/s")
            .Loss("missing", "missing", readers.Sum(r => Math.Max(0, history - r.Received)))
            .Loss("out_of_order", "out of order or twice", readers.Sum(r => r.OutOfOrder));
        result.Latencies("replay", "time to full replay", [.. readers.Where(r => r.Finished is not null).Select(r => r.Finished!.Value.TotalMilliseconds)]);
        return result.Add("reconnects", "reconnects", readers.Sum(r => r.Reconnects));
    }

    public static async Task<BenchResult> PublishAsync(HttpClient http, int concurrency, int streams, int duration, int count, BenchProgress progress, CancellationToken cancellationToken)
    {
        var prefix = StreamName("publish");
        var client = new SluiceClient(http);
        var issued = 0L;
        var errors = 0L;
        var deadline = Stopwatch.GetTimestamp() + (long)(duration * (double)Stopwatch.Frequency);
        progress.Start("publishing", count);
        var started = Stopwatch.GetTimestamp();
        var workers = Enumerable.Range(0, concurrency).Select(w => Task.Run(async () =>
        {
            var mine = new List<double>();
            while (Stopwatch.GetTimestamp() < deadline && Interlocked.Increment(ref issued) <= count)
            {
                var at = Stopwatch.GetTimestamp();
                try
                {
                    await client.PublishAsync($"{prefix}-{(w + mine.Count * concurrency) % streams}", Tick(mine.Count, at), cancellationToken);
                    mine.Add(Stopwatch.GetElapsedTime(at).TotalMilliseconds);
                    progress.Add();
                }
                catch (Exception ex) when (ex is SluiceApiException or HttpRequestException)
                {
                    Interlocked.Increment(ref errors);
                }
            }

            return mine;
        }, cancellationToken)).ToArray();
        var latencies = (await Task.WhenAll(workers)).SelectMany(l => l).ToList();
        var wall = Stopwatch.GetElapsedTime(started).TotalSeconds;
        return new BenchResult()
            .Add("concurrency", "concurrency", concurrency)
            .Add("streams", "streams", streams)
            .Add("publishes", "publishes", (long)latencies.Count)
            .Add("publishes_per_second", "publish rate", Math.Round(latencies.Count / wall, 0), "publishes/s")
            .Loss("errors", "failed publishes", errors)
            .Latencies("latency", "publish latency", latencies);
    }

    public static async Task<BenchResult> GenerationsAsync(HttpClient http, string model, int concurrency, int count, int tokens, BenchProgress progress, CancellationToken cancellationToken)
    {
        var client = new SluiceClient(http, Patient);
        var next = 0;
        var failed = 0L;
        var delivered = 0L;
        var ttft = new List<double>();
        var e2e = new List<double>();
        var simulate = model.StartsWith("simulated/", StringComparison.Ordinal)
            ? new Dictionary<string, JsonElement> { ["simulate"] = JsonSerializer.SerializeToElement(new { output_tokens = tokens, tokens_per_second = 0, ttft_ms = 0 }) }
            : null;
        progress.Start("generating", count);
        var started = Stopwatch.GetTimestamp();
        var workers = Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
        {
            while (Interlocked.Increment(ref next) <= count)
            {
                var at = Stopwatch.GetTimestamp();
                TimeSpan? first = null;
                string? finish = null;
                var mine = 0L;
                try
                {
                    var generation = await client.CreateGenerationAsync(new SluiceGenerationRequest
                    {
                        Model = model,
                        Messages = [new SluiceMessage("user", "bench")],
                        MaxTokens = tokens,
                        AdditionalProperties = simulate,
                    }, "bench-" + Guid.NewGuid().ToString("N"), cancellationToken);
                    await foreach (var e in client.StreamGenerationAsync(generation.Id, cancellationToken: cancellationToken))
                    {
                        if (e is TokenEvent)
                        {
                            first ??= Stopwatch.GetElapsedTime(at);
                            mine++;
                        }
                        else if (e is DoneEvent done)
                        {
                            finish = done.FinishReason;
                        }
                    }
                }
                catch (Exception ex) when (ex is SluiceApiException or SluiceStreamException or HttpRequestException)
                {
                }

                Interlocked.Add(ref delivered, mine);
                lock (e2e)
                {
                    if (finish is "stop" or "length" && first is { } f)
                    {
                        ttft.Add(f.TotalMilliseconds);
                        e2e.Add(Stopwatch.GetElapsedTime(at).TotalMilliseconds);
                    }
                    else
                    {
                        failed++;
                    }
                }

                progress.Add();
            }
        }, cancellationToken)).ToArray();
        await Task.WhenAll(workers);
        var wall = Stopwatch.GetElapsedTime(started).TotalSeconds;
        return new BenchResult()
            .Add("model", "model", model)
            .Add("concurrency", "concurrency", concurrency)
            .Add("generations", "generations", (long)count)
            .Loss("failed", "failed", failed)
            .Add("tokens", "tokens delivered", delivered)
            .Add("tokens_per_second", "tokens/s, all generations", Math.Round(delivered / wall, 0), "tokens/s")
            .Latencies("ttft", "time to first token", ttft)
            .Latencies("e2e", "end to end", e2e);
    }

    private static string StreamName(string scenario) => $"bench-{scenario}-{DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()}-{Random.Shared.Next(1_000_000)}";

    /// <summary>Waits for every reader to see the terminal event; those not done 30 s after the last publish are stopped and count as missing.</summary>
    private static async Task DrainAsync(Reader[] readers, CancellationTokenSource stop)
    {
        try
        {
            await Task.WhenAll(readers.Select(r => r.Completion)).WaitAsync(TimeSpan.FromSeconds(30), stop.Token);
        }
        catch (TimeoutException)
        {
        }

        await stop.CancelAsync();
        await Task.WhenAll(readers.Select(r => r.Completion));
    }

    /// <summary>One subscriber: counts the bench's ticks, checks they come in order, and times them.</summary>
    private sealed class Reader(SluiceClient client, int latencyCapacity, long startedAt = 0, long firstSeq = 0)
    {
        public List<double> Latencies { get; } = new(latencyCapacity);

        public long Received { get; private set; }

        public long OutOfOrder { get; private set; }

        public long Reconnects { get; private set; }

        public TimeSpan? Finished { get; private set; }

        public Task Completion { get; private set; } = Task.CompletedTask;

        public void Run(string stream, CancellationToken cancellationToken, Action onFirst, Action onEvent, bool recordLatency) =>
            Completion = Task.Run(async () =>
            {
                var last = firstSeq - 1;
                try
                {
                    await foreach (var e in client.StreamEventsAsync(stream, cancellationToken: cancellationToken))
                    {
                        if (e is CustomEvent { Type: "x-bench" } tick)
                        {
                            var seq = tick.Data.GetProperty("seq").GetInt64();
                            if (seq != last + 1)
                            {
                                OutOfOrder++;
                            }

                            last = Math.Max(last, seq);
                            if (seq == 0 && recordLatency)
                            {
                                onFirst();
                                continue;
                            }

                            Received++;
                            onEvent();
                            if (recordLatency)
                            {
                                Latencies.Add(Stopwatch.GetElapsedTime(tick.Data.GetProperty("t").GetInt64()).TotalMilliseconds);
                            }
                        }
                        else if (e.IsTerminal)
                        {
                            Finished = Stopwatch.GetElapsedTime(startedAt);
                        }
                    }
                }
                catch (Exception ex) when (ex is OperationCanceledException or SluiceStreamException or HttpRequestException)
                {
                }
                finally
                {
                    Reconnects = client.Reconnects;
                }
            }, CancellationToken.None);
    }
}
