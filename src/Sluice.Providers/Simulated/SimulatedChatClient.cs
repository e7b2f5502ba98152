using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using Sluice.Configuration;
using Sluice.Errors;
using Sluice.Generations;

namespace Sluice.Providers.Simulated;

/// <summary>
/// The built-in provider: deterministic text from a seed, with a configurable time to first token, rate,
/// length, tool calls, citations and failures (API.md section 5, <c>simulate</c>). It needs nothing outside
/// the process, so Sluice's main job runs anywhere, and tests and benchmarks can shape a provider exactly.
/// Delays run on the injected <see cref="TimeProvider"/>.
/// </summary>
internal sealed class SimulatedChatClient(string providerName, string model, Func<SimulateOptions?> defaults, TimeProvider time) : IChatClient
{
    /// <summary>Unset <c>ttft_ms</c>: about what a hosted model takes to start answering.</summary>
    public const int DefaultTtftMs = 300;

    /// <summary>Unset <c>tokens_per_second</c>: a hosted model's pace, slow enough to see it stream.</summary>
    public const double DefaultTokensPerSecond = 30;

    // Answers that read as answers, so a first run looks like a model streaming; one is chosen by the seed,
    // and a requested length longer than it runs on into the next.
    private static readonly string[][] Answers =
    [
        Split("Sluice keeps every stream as an ordered log of events. A client that drops reconnects with Last-Event-ID and receives exactly the events it missed, so nothing is lost and nothing arrives twice. This answer comes from the built-in simulated provider, paced like a hosted model."),
        Split("Here is a short answer from the simulated provider. It starts after about three hundred milliseconds and streams some thirty tokens a second, as a hosted model would. Point Sluice at OpenAI, Anthropic or a local server in appsettings.json to get real answers instead."),
        Split("Streams stall for many reasons: a proxy that buffers, a provider that goes quiet, a client that stops reading. Sluice sends heartbeats, cuts silent providers with timeouts and lets slow clients resume from the log. Each of those paths can be tried here without a real model."),
        Split("Good question. The generation runs to its end whether anyone is watching or not, and every token is stored before it is sent. Open the events URL in a browser, close the tab, open it again, and the stream picks up where it left off."),
    ];

    private static readonly string[] AllWords = [.. Answers.SelectMany(a => a)];

    private long _runs;

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var list = messages as IReadOnlyList<ChatMessage> ?? [.. messages];
        // The request's simulate over the provider's configured shape, read now (it can change without a restart).
        var requested = options?.AdditionalProperties?.TryGetValue(SimulateOptions.ChatOptionsKey, out var value) == true ? value as SimulateOptions : null;
        var shape = (requested ?? new SimulateOptions()).Over(defaults() ?? new SimulateOptions());
        var seed = shape.Seed ?? SeedOf(list);
        var words = shape.Text is { } text ? text.Split(' ') : null;
        var answer = (int)((uint)seed % (uint)Answers.Length);
        var planned = words?.Length ?? Math.Max(0, shape.OutputTokens ?? Answers[answer].Length);
        var max = options?.MaxOutputTokens;
        var count = max is { } m && m < planned ? m : planned;
        var finish = max is { } m2 && m2 < planned ? ChatFinishReason.Length : ChatFinishReason.Stop;
        var fail = shape.Fail ?? "none";
        if (shape.FailRate is { } rate)
        {
            // Evenly spread, not random: run n fails when floor(n * rate) steps up, so a rate of 0.25 fails
            // exactly one run in four and a test or game day sees the same pattern every time.
            var n = Interlocked.Increment(ref _runs);
            var fails = Math.Floor(n * rate) > Math.Floor((n - 1) * rate);
            fail = !fails ? "none" : fail == "none" ? "before_first_token" : fail;
        }

        var failAfter = shape.FailAfterTokens ?? (fail == "mid_stream" ? Math.Max(1, count / 2) : 0);
        var interval = (shape.TokensPerSecond ?? DefaultTokensPerSecond) is > 0 and var tps ? TimeSpan.FromSeconds(1 / tps) : TimeSpan.Zero;
        var inputTokens = list.Sum(message => CountWords(message.Text));

        if ((shape.TtftMs ?? DefaultTtftMs) is > 0 and var ttft)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(ttft), time, cancellationToken);
        }

        if (fail == "before_first_token")
        {
            throw new ProviderException(ErrorCodes.ProviderUnavailable, $"{providerName}: simulated failure before the first token.", true);
        }

        var offset = Offset(answer);
        for (var i = 0; i < count; i++)
        {
            if (fail == "mid_stream" && i == failAfter)
            {
                throw new ProviderException(ErrorCodes.ProviderUnavailable, $"{providerName}: simulated failure after {i} tokens.", true);
            }

            if (fail == "hang" && i == failAfter)
            {
                await Task.Delay(Timeout.InfiniteTimeSpan, time, cancellationToken);
            }

            if (i > 0 && interval > TimeSpan.Zero)
            {
                await Task.Delay(interval, time, cancellationToken);
            }

            var word = words is not null ? words[i] : AllWords[(offset + i) % AllWords.Length];
            var content = new TextContent(i == 0 ? word : " " + word);
            if (shape.Citations is > 0 and var citations && i < citations)
            {
                content.Annotations = [new CitationAnnotation
                {
                    ToolName = "simulated-search",
                    Title = $"Simulated source {i + 1}",
                    Url = new Uri($"https://example.invalid/sources/{i + 1}"),
                    Snippet = $"A quoted passage {i + 1} from the simulated source.",
                }];
            }

            yield return new ChatResponseUpdate(ChatRole.Assistant, [content]) { ModelId = model };
        }

        if (fail == "hang" && failAfter >= count)
        {
            await Task.Delay(Timeout.InfiniteTimeSpan, time, cancellationToken);
        }

        if (fail == "mid_stream" && failAfter >= count)
        {
            throw new ProviderException(ErrorCodes.ProviderUnavailable, $"{providerName}: simulated failure after {count} tokens.", true);
        }

        var tools = shape.ToolCalls ?? 0;
        for (var t = 0; t < tools; t++)
        {
            yield return new ChatResponseUpdate(ChatRole.Assistant,
                [new FunctionCallContent($"call_sim_{seed & 0xffff:x4}_{t}", "lookup", new Dictionary<string, object?> { ["query"] = $"simulated query {t + 1}", ["limit"] = t + 1 })])
            { ModelId = model };
        }

        yield return new ChatResponseUpdate(ChatRole.Assistant, [new UsageContent(new UsageDetails { InputTokenCount = inputTokens, OutputTokenCount = count, TotalTokenCount = inputTokens + count })])
        {
            ModelId = model,
            FinishReason = tools > 0 && finish == ChatFinishReason.Stop ? ChatFinishReason.ToolCalls : finish,
        };
    }

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        await GetStreamingResponseAsync(messages, options, cancellationToken).ToChatResponseAsync(cancellationToken);

    // What UseOpenTelemetry() reads for gen_ai.provider.name and the model: once, not per call.
    private readonly ChatClientMetadata _metadata = new("sluice.simulated", null, model);

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is not null ? null
        : serviceType == typeof(ChatClientMetadata) ? _metadata
        : serviceType.IsInstanceOfType(this) ? this : null;

    public void Dispose()
    {
    }

    private static int SeedOf(IReadOnlyList<ChatMessage> messages)
    {
        // FNV-1a over the text: the same messages give the same output on every node and every run.
        var hash = 2166136261u;
        foreach (var message in messages)
        {
            foreach (var c in message.Text)
            {
                hash = (hash ^ c) * 16777619u;
            }
        }

        return (int)hash;
    }

    private static int CountWords(string text)
    {
        var count = 0;
        var inWord = false;
        foreach (var c in text)
        {
            var letter = !char.IsWhiteSpace(c);
            if (letter && !inWord)
            {
                count++;
            }

            inWord = letter;
        }

        return count;
    }

    private static int Offset(int answer)
    {
        var offset = 0;
        for (var a = 0; a < answer; a++)
        {
            offset += Answers[a].Length;
        }

        return offset;
    }

    private static string[] Split(string text) => text.Split(' ');
}
