using System.Buffers;
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Sluice.Client;
using Spectre.Console;

namespace Sluice.Cli;

/// <summary><c>sluice tail</c> and <c>sluice generate</c>: streams read through Sluice.Client, which resumes them across dropped connections.</summary>
public static partial class SluiceCli
{
    private static Command TailCommand(CliConnection connection, TextWriter stdout, TextWriter stderr)
    {
        var stream = new Argument<string>("stream") { Description = "The stream id." };
        var lastEventId = new Option<long>("--last-event-id") { Description = "Resume after this id (default: from the start)." };
        var json = new Option<bool>("--json") { Description = "One JSON object per event: {\"id\",\"type\",\"data\"}." };
        var tail = new Command("tail", "Print a stream's events as they arrive (replay, then live) until it ends; resumes across dropped connections.") { stream, lastEventId, json };
        tail.SetAction((result, ct) => CliConnection.GuardAsync(connection.BaseAddress(result), stderr, async () =>
        {
            using var http = connection.CreateHttpClient(result);
            if (http is null)
            {
                await stderr.WriteLineAsync(CliConnection.NoKey);
                return 2;
            }

            var client = new SluiceClient(http);
            var console = Terminal.IsTerminal(stdout) && !result.GetValue(json) ? Terminal.For(stdout) : null;
            await foreach (var e in client.StreamEventsAsync(result.GetValue(stream)!, result.GetValue(lastEventId), cancellationToken: ct))
            {
                var id = e.Id?.ToString(CultureInfo.InvariantCulture) ?? "-";
                if (result.GetValue(json))
                {
                    await stdout.WriteLineAsync(JsonLine(e));
                }
                else if (console is not null)
                {
                    console.MarkupLine($"[grey]{id}[/] [{Terminal.Colour(e.Type)}]{Markup.Escape(e.Type)}[/] {Markup.Escape(e.RawData)}");
                }
                else
                {
                    await stdout.WriteLineAsync($"{id}\t{e.Type}\t{e.RawData}");
                }

                await stdout.FlushAsync(ct);
            }

            return 0;
        }, ct));
        return tail;
    }

    private static Command GenerateCommand(CliConnection connection, TextWriter stdout, TextWriter stderr)
    {
        var prompt = new Argument<string>("prompt") { Description = "What to ask (sent as one user message)." };
        var model = new Option<string>("--model") { Description = "A model or alias from GET /v1/models.", DefaultValueFactory = _ => "simulated/default" };
        var maxTokens = new Option<int?>("--max-tokens") { Description = "At most this many output tokens." };
        var json = new Option<bool>("--json") { Description = "One JSON object per event ({\"id\",\"type\",\"data\"}) instead of the text." };
        maxTokens.Validators.Add(r =>
        {
            if (r.GetValue(maxTokens) is < 1)
            {
                r.AddError("--max-tokens must be at least 1.");
            }
        });
        var generate = new Command("generate", "Start a generation and stream its tokens as they come, resuming transparently; ends with a summary line.") { prompt, model, maxTokens, json };
        generate.SetAction((result, ct) => CliConnection.GuardAsync(connection.BaseAddress(result), stderr, async () =>
        {
            using var http = connection.CreateHttpClient(result);
            if (http is null)
            {
                await stderr.WriteLineAsync(CliConnection.NoKey);
                return 2;
            }

            var client = new SluiceClient(http);
            var started = Stopwatch.GetTimestamp();
            var generation = await client.CreateGenerationAsync(new SluiceGenerationRequest
            {
                Model = result.GetValue(model)!,
                Messages = [new SluiceMessage("user", result.GetValue(prompt)!)],
                MaxTokens = result.GetValue(maxTokens),
            }, "cli-" + Guid.NewGuid().ToString("N"), ct);
            var summary = new GenerationSummary();
            var asJson = result.GetValue(json);
            try
            {
                await foreach (var e in client.StreamGenerationAsync(generation.Id, cancellationToken: ct))
                {
                    summary.Add(e, Stopwatch.GetElapsedTime(started));
                    if (asJson)
                    {
                        await stdout.WriteLineAsync(JsonLine(e));
                    }
                    else if (((e as TokenEvent)?.Text ?? (e as SafeResponseEvent)?.Text) is { } text)
                    {
                        await stdout.WriteAsync(text);
                    }

                    await stdout.FlushAsync(ct);
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                // Ctrl+C: the generation would run on (and cost) with nobody reading; cancel it, best effort.
                try
                {
                    using var quick = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                    await client.CancelAsync(generation.Id, quick.Token);
                }
                catch (Exception ex) when (ex is HttpRequestException or SluiceApiException or OperationCanceledException)
                {
                }

                throw;
            }

            if (!asJson && summary.Tokens + summary.SafeResponses > 0)
            {
                await stdout.WriteLineAsync();
            }

            var end = Stopwatch.GetElapsedTime(started);
            Terminal.For(stderr).MarkupLine(summary.Markup(end, client.GetConnectionStats().Reconnects));
            if (summary.Problem is { } problem)
            {
                await stderr.WriteLineAsync("sluice: " + problem);
            }

            return summary.Succeeded ? 0 : 1;
        }, ct));
        return generate;
    }

    /// <summary><c>{"id":1,"type":"token","data":{...}}</c> with the data exactly as the server sent it.</summary>
    private static string JsonLine(SluiceEvent e)
    {
        var buffer = new ArrayBufferWriter<byte>(64 + e.RawData.Length);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            if (e.Id is { } id)
            {
                writer.WriteNumber("id", id);
            }
            else
            {
                writer.WriteNull("id");
            }

            writer.WriteString("type", e.Type);
            writer.WritePropertyName("data");
            writer.WriteRawValue(e.RawData);
            writer.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}

/// <summary>What <c>sluice generate</c> saw, for its summary line and exit code.</summary>
internal sealed class GenerationSummary
{
    public TimeSpan? TimeToFirstToken { get; private set; }

    public long Tokens { get; private set; }

    public long SafeResponses { get; private set; }

    public string? FinishReason { get; private set; }

    public long? OutputTokens { get; private set; }

    public string? Problem { get; private set; }

    /// <summary>Only a generation that finished normally; an error, a safe response, a cancel or a cut-off stream is a failure.</summary>
    public bool Succeeded => Problem is null && FinishReason is "stop" or "length" or "tool_calls";

    public void Add(SluiceEvent e, TimeSpan at)
    {
        switch (e)
        {
            case TokenEvent:
                TimeToFirstToken ??= at;
                Tokens++;
                break;
            case DoneEvent done:
                FinishReason = done.FinishReason;
                OutputTokens = done.OutputTokens;
                if (FinishReason is "cancelled")
                {
                    Problem = "the generation was cancelled (cancelled)";
                }

                break;
            case ErrorEvent { Id: not null } error:
                FinishReason = "error";
                Problem = $"{error.Message ?? "the generation failed"} ({error.Code})";
                break;
            case SafeResponseEvent safe:
                SafeResponses++;
                FinishReason = "safe_response";
                Problem = $"the answer was replaced by a safe response ({safe.Reason ?? "safe_response"})";
                break;
        }
    }

    public string Markup(TimeSpan end, long reconnects)
    {
        var tokens = OutputTokens ?? Tokens;
        var streaming = TimeToFirstToken is { } first ? end - first : TimeSpan.Zero;
        var rate = streaming > TimeSpan.Zero && Tokens > 1 ? (Tokens - 1) / streaming.TotalSeconds : 0;
        var finish = FinishReason ?? "none";
        var colour = Succeeded ? "green" : "red";
        string Dim(string s) => $"[grey]{s}[/]";
        return string.Create(CultureInfo.InvariantCulture,
            $"{Dim("ttft")} {(TimeToFirstToken is { } t ? $"{t.TotalMilliseconds:0} ms" : "-")}  {Dim("tokens")} {tokens}  {Dim("tokens/s")} {rate:0.0}  {Dim("e2e")} {end.TotalSeconds:0.00} s  {Dim("finish")} [{colour}]{finish}[/]  {Dim("reconnects")} {reconnects}");
    }
}
