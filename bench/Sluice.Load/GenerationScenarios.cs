using System.Buffers.Text;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Sluice.Load;

/// <summary>
/// Generation scenarios (Sluice only: the peers have no generations). <c>generations</c>: many generations
/// through the simulated provider with zero think time, each read by its own SSE client to the end.
/// <c>overhead</c>: the time Sluice adds between an upstream's first token and the client's first byte of it,
/// against an OpenAI-wire upstream in this process that writes its clock reading into the token.
/// </summary>
internal static class GenerationScenarios
{
    private static readonly byte[] TokenLine = "event: token"u8.ToArray();
    private static readonly byte[] DoneLine = "event: done"u8.ToArray();
    private static readonly byte[] StampKey = "\"text\":\"t"u8.ToArray();

    public static async Task<object> GenerationsAsync(HttpClient http, string url, string key, int concurrency, TimeSpan duration, int tokens)
    {
        var body = $"{{\"model\":\"simulated/default\",\"messages\":[{{\"role\":\"user\",\"content\":\"bench\"}}],\"simulate\":{{\"output_tokens\":{tokens},\"ttft_ms\":0,\"tokens_per_second\":0}}}}";
        var deadline = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        long completed = 0, incomplete = 0, refused = 0, tokensSeen = 0;
        var latencies = new List<double>[concurrency];
        var watch = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(w => Task.Run(async () =>
        {
            var mine = latencies[w] = [];
            var buffer = new byte[16 * 1024];
            while (Stopwatch.GetTimestamp() < deadline)
            {
                var started = Stopwatch.GetTimestamp();
                using var request = new HttpRequestMessage(HttpMethod.Post, url + "/v1/generations") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
                request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + key);
                request.Headers.TryAddWithoutValidation("Accept", "text/event-stream");
                try
                {
                    using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
                    if (response.StatusCode != HttpStatusCode.OK)
                    {
                        Interlocked.Increment(ref refused);
                        continue;
                    }

                    await using var stream = await response.Content.ReadAsStreamAsync();
                    var (seen, done) = await CountAsync(stream, buffer);
                    Interlocked.Add(ref tokensSeen, seen);
                    if (done && seen == tokens)
                    {
                        Interlocked.Increment(ref completed);
                        mine.Add(Stats.Ms(Stopwatch.GetTimestamp() - started));
                    }
                    else
                    {
                        Interlocked.Increment(ref incomplete);
                    }
                }
                catch (Exception ex) when (ex is HttpRequestException or IOException)
                {
                    Interlocked.Increment(ref incomplete);
                }
            }
        })));
        var seconds = watch.Elapsed.TotalSeconds;
        var (p50, p99, max) = Stats.Percentiles([.. latencies.SelectMany(l => l)]);
        return new
        {
            scenario = "generations",
            target = "sluice",
            concurrency,
            tokens_per_generation = tokens,
            generations = completed,
            generations_per_second = Math.Round(completed / seconds, 1),
            tokens_per_second = Math.Round(tokensSeen / seconds, 1),
            incomplete,
            refused_503 = refused,
            generation_ms_p50 = p50,
            generation_ms_p99 = p99,
            generation_ms_max = max,
        };
    }

    /// <summary>The upstream for <c>overhead</c>: OpenAI's chunk stream, whose first token carries the clock at its write.</summary>
    public static async Task<WebApplication> StartStampingUpstreamAsync(int port, TimeSpan firstTokenDelay)
    {
        var builder = WebApplication.CreateSlimBuilder(["--urls", $"http://127.0.0.1:{port}"]);
        builder.Logging.ClearProviders();
        var app = builder.Build();
        const string head = "{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1741570283,\"model\":\"bench\",\"system_fingerprint\":\"fp_bench\",\"choices\":[{\"index\":0,";
        app.MapPost("/v1/chat/completions", async (HttpContext context) =>
        {
            await context.Request.Body.CopyToAsync(Stream.Null);
            context.Response.ContentType = "text/event-stream";
            var body = context.Response.Body;
            await body.WriteAsync(Encoding.UTF8.GetBytes("data: " + head + "\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n"));
            await body.FlushAsync();
            // Long enough for the client's SSE response to be live, so the token travels the live path.
            await Task.Delay(firstTokenDelay);
            var stamp = Stopwatch.GetTimestamp().ToString(CultureInfo.InvariantCulture);
            await body.WriteAsync(Encoding.UTF8.GetBytes("data: " + head + "\"delta\":{\"content\":\"t" + stamp + "\"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n"));
            await body.FlushAsync();
            await body.WriteAsync(Encoding.UTF8.GetBytes("data: " + head + "\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":null}\n\ndata: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1741570283,\"model\":\"bench\",\"choices\":[],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1,\"total_tokens\":2}}\n\ndata: [DONE]\n\n"));
        });
        await app.StartAsync();
        return app;
    }

    public static async Task<object> OverheadAsync(HttpClient http, string url, string key, int count, int upstreamPort)
    {
        await using var upstream = await StartStampingUpstreamAsync(upstreamPort, TimeSpan.FromMilliseconds(20));
        var direct = new List<double>();
        var through = new List<double>();
        var buffer = new byte[16 * 1024];
        for (var i = 0; i < count; i++)
        {
            // Baseline: the same client reading the upstream directly (loopback, parsing, scheduling).
            using (var request = new HttpRequestMessage(HttpMethod.Post, $"http://127.0.0.1:{upstreamPort}/v1/chat/completions") { Content = new StringContent("{}") })
            using (var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead))
            await using (var stream = await response.Content.ReadAsStreamAsync())
            {
                if (await FirstStampAsync(stream, buffer, "\"content\":\"t"u8.ToArray()) is { } d)
                {
                    direct.Add(d);
                }
            }

            using (var request = new HttpRequestMessage(HttpMethod.Post, url + "/v1/generations")
            {
                Content = new StringContent("{\"model\":\"bench/bench\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", Encoding.UTF8, "application/json"),
            })
            {
                request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + key);
                request.Headers.TryAddWithoutValidation("Accept", "text/event-stream");
                using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
                await using var stream = await response.Content.ReadAsStreamAsync();
                if (await FirstStampAsync(stream, buffer, StampKey) is { } t)
                {
                    through.Add(t);
                }
            }
        }

        var (d50, d99, dmax) = Stats.Percentiles(direct);
        var (t50, t99, tmax) = Stats.Percentiles(through);
        return new
        {
            scenario = "overhead",
            target = "sluice",
            samples = through.Count,
            direct_ms_p50 = d50,
            direct_ms_p99 = d99,
            direct_ms_max = dmax,
            through_sluice_ms_p50 = t50,
            through_sluice_ms_p99 = t99,
            through_sluice_ms_max = tmax,
            added_ms_p50 = Math.Round(t50 - d50, 3),
            added_ms_p99 = Math.Round(t99 - d99, 3),
        };
    }

    /// <summary>Milliseconds from the upstream's clock reading in the first stamped token to the moment its bytes were read here.</summary>
    private static async Task<double?> FirstStampAsync(Stream stream, byte[] buffer, byte[] key)
    {
        var count = 0;
        double? found = null;
        while (true)
        {
            var read = await stream.ReadAsync(buffer.AsMemory(count));
            if (read == 0)
            {
                return found;
            }

            var now = Stopwatch.GetTimestamp();
            count += read;
            if (found is null)
            {
                var span = buffer.AsSpan(0, count);
                var at = span.IndexOf(key);
                if (at >= 0 && Utf8Parser.TryParse(span[(at + key.Length)..], out long stamp, out _))
                {
                    found = Stats.Ms(now - stamp);
                }
            }

            if (count > buffer.Length - 1024)
            {
                count = 0;
            }
        }
    }

    private static async Task<(int Tokens, bool Done)> CountAsync(Stream stream, byte[] buffer)
    {
        int tokens = 0, count = 0;
        var done = false;
        while (true)
        {
            var read = await stream.ReadAsync(buffer.AsMemory(count));
            if (read == 0)
            {
                return (tokens, done);
            }

            count += read;
            var consumed = 0;
            while (true)
            {
                var span = buffer.AsSpan(consumed, count - consumed);
                var newline = span.IndexOf((byte)'\n');
                if (newline < 0)
                {
                    break;
                }

                var line = span[..newline];
                if (line.SequenceEqual(TokenLine))
                {
                    tokens++;
                }
                else if (line.SequenceEqual(DoneLine))
                {
                    done = true;
                }

                consumed += newline + 1;
            }

            buffer.AsSpan(consumed, count - consumed).CopyTo(buffer);
            count -= consumed;
        }
    }
}
