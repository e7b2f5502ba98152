using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Spectre.Console;

namespace Sluice.Cli;

/// <summary>
/// <c>sluice bench fanout|burst|publish|generations</c>: the load scenarios against a running Sluice, with a live
/// progress bar and a results table (<c>--json</c> for machines). Every run is bounded in time and count, and it
/// refuses an address other than this machine's unless <c>--allow-remote</c> is given.
/// </summary>
public static partial class SluiceCli
{
    private static Command BenchCommand(CliConnection connection, TextWriter stdout, TextWriter stderr)
    {
        var bench = new Command("bench", "Load scenarios against a running Sluice (loopback only unless --allow-remote); a results table, or --json.");
        var json = new Option<bool>("--json") { Description = "Print the results as one JSON object.", Recursive = true };
        var allowRemote = new Option<bool>("--allow-remote") { Description = "Allow a URL that is not this machine (the load is real).", Recursive = true };
        bench.Options.Add(json);
        bench.Options.Add(allowRemote);

        var subscribers = Bounded("--subscribers", "Subscribers on the stream.", 100, 1, BenchScenarios.MaxSubscribers);
        var rate = Bounded("--rate", "Events published per second.", 50, 1, 5_000);
        var duration = Bounded("--duration", "Seconds to publish for.", 10, 1, 300);
        var fanout = new Command("fanout", "One stream, many subscribers, a paced publisher: delivery latency, nothing lost or twice.") { subscribers, rate, duration };
        fanout.Validators.Add(r =>
        {
            if ((long)r.GetValue(subscribers) * r.GetValue(rate) * r.GetValue(duration) > BenchScenarios.MaxLatencySamples)
            {
                r.AddError($"subscribers × rate × duration is over {BenchScenarios.MaxLatencySamples:N0} deliveries: lower one of them.");
            }
        });
        fanout.SetAction((r, ct) => Run(r, "fanout", (http, p, token) => BenchScenarios.FanoutAsync(http, r.GetValue(subscribers), r.GetValue(rate), r.GetValue(duration), p, token), ct));
        bench.Subcommands.Add(fanout);

        var burstSubscribers = Bounded("--subscribers", "Subscribers that replay at once.", 100, 1, BenchScenarios.MaxSubscribers);
        var history = Bounded("--history", "Events each replays.", 1_000, 1, 100_000);
        var burst = new Command("burst", "Many subscribers replay a stream's history at once (a reconnect storm): time to full replay.") { burstSubscribers, history };
        burst.Validators.Add(r =>
        {
            if ((long)r.GetValue(burstSubscribers) * r.GetValue(history) > BenchScenarios.MaxReplayedEvents)
            {
                r.AddError($"subscribers × history is over {BenchScenarios.MaxReplayedEvents:N0} events: lower one of them.");
            }
        });
        burst.SetAction((r, ct) => Run(r, "burst", (http, p, token) => BenchScenarios.BurstAsync(http, r.GetValue(burstSubscribers), r.GetValue(history), p, token), ct));
        bench.Subcommands.Add(burst);

        var concurrency = Bounded("--concurrency", "Publishes in flight.", 16, 1, 256);
        var streams = Bounded("--streams", "Streams written to.", 16, 1, 10_000);
        var publishDuration = Bounded("--duration", "Seconds to publish for.", 10, 1, 300);
        var count = Bounded("--count", "Stop after this many publishes.", 200_000, 1, 1_000_000);
        var publish = new Command("publish", "Durable publishes from concurrent writers: publishes/s and latency.") { concurrency, streams, publishDuration, count };
        publish.SetAction((r, ct) => Run(r, "publish", (http, p, token) => BenchScenarios.PublishAsync(http, r.GetValue(concurrency), r.GetValue(streams), r.GetValue(publishDuration), r.GetValue(count), p, token), ct));
        bench.Subcommands.Add(publish);

        var generationConcurrency = Bounded("--concurrency", "Generations running at once.", 8, 1, 256);
        var generations = Bounded("--count", "Generations to run.", 40, 1, 10_000);
        var tokens = Bounded("--tokens", "Output tokens of each (simulated models).", 64, 1, 10_000);
        var model = new Option<string>("--model") { Description = "The model; simulated/* runs unpaced, shaped by --tokens.", DefaultValueFactory = _ => "simulated/default" };
        var gen = new Command("generations", "Concurrent generations end to end: time to first token, e2e, tokens/s.") { generationConcurrency, generations, tokens, model };
        gen.SetAction((r, ct) => Run(r, "generations", (http, p, token) => BenchScenarios.GenerationsAsync(http, r.GetValue(model)!, r.GetValue(generationConcurrency), r.GetValue(generations), r.GetValue(tokens), p, token), ct));
        bench.Subcommands.Add(gen);
        return bench;

        Task<int> Run(ParseResult result, string scenario, Func<HttpClient, BenchProgress, CancellationToken, Task<BenchResult>> work, CancellationToken ct) =>
            CliConnection.GuardAsync(connection.BaseAddress(result), stderr, async () =>
            {
                var address = connection.BaseAddress(result);
                if (!result.GetValue(allowRemote) && !CliConnection.IsLoopback(address))
                {
                    await stderr.WriteLineAsync($"sluice: bench sends real load; {address.Host} is not this machine (pass --allow-remote if you mean it).");
                    return 2;
                }

                using var http = connection.CreateHttpClient(result, new SocketsHttpHandler
                {
                    // Every subscriber holds a connection of its own, as browsers do.
                    MaxConnectionsPerServer = int.MaxValue,
                    PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
                    UseProxy = false,
                });
                if (http is null)
                {
                    await stderr.WriteLineAsync(CliConnection.NoKey);
                    return 2;
                }

                var progress = new BenchProgress();
                var running = work(http, progress, ct);
                var console = Terminal.For(stderr);
                if (!result.GetValue(json) && console.Profile.Capabilities.Interactive)
                {
                    await console.Progress()
                        .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
                        .StartAsync(async context =>
                        {
                            var task = context.AddTask(scenario, maxValue: 1);
                            while (!running.IsCompleted)
                            {
                                task.Description = $"{scenario}: {progress.Stage}";
                                task.MaxValue = Math.Max(1, progress.Total);
                                task.Value = Math.Min(task.MaxValue, progress.Done);
                                await Task.WhenAny(running, Task.Delay(200, ct));
                            }

                            task.Value = task.MaxValue;
                        });
                }

                var outcome = await running;
                if (result.GetValue(json))
                {
                    var values = new Dictionary<string, object?> { ["scenario"] = scenario, ["url"] = address.ToString() };
                    foreach (var row in outcome.Rows)
                    {
                        values[row.Key] = row.Value;
                    }

                    await stdout.WriteLineAsync(JsonSerializer.Serialize(values));
                }
                else
                {
                    var table = new Table().AddColumn("metric").AddColumn(new TableColumn("value").RightAligned()).AddColumn("unit");
                    table.Title = new TableTitle($"sluice bench {scenario} against {address}");
                    foreach (var row in outcome.Rows)
                    {
                        var value = row.Value switch
                        {
                            double d => d.ToString("0.##", CultureInfo.InvariantCulture),
                            long l => l.ToString("N0", CultureInfo.InvariantCulture),
                            int i => i.ToString("N0", CultureInfo.InvariantCulture),
                            _ => Convert.ToString(row.Value, CultureInfo.InvariantCulture) ?? "-",
                        };
                        var broken = row.IsLoss && row.Value is long and > 0;
                        table.AddRow(Markup.Escape(row.Label), broken ? $"[red]{value}[/]" : value, Markup.Escape(row.Unit));
                    }

                    Terminal.For(stdout).Write(table);
                }

                if (outcome.Lost > 0)
                {
                    await stderr.WriteLineAsync($"sluice: {outcome.Lost:N0} events lost, out of order or failed");
                    return 1;
                }

                return 0;
            }, ct);
    }

    private static Option<int> Bounded(string name, string description, int defaultValue, int min, int max)
    {
        var option = new Option<int>(name) { Description = $"{description} ({min:N0} to {max:N0}; default {defaultValue:N0})", DefaultValueFactory = _ => defaultValue };
        option.Validators.Add(r =>
        {
            var value = r.GetValueOrDefault<int>();
            if (value < min || value > max)
            {
                r.AddError($"{name} must be between {min:N0} and {max:N0}.");
            }
        });
        return option;
    }
}
