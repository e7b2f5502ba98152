using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using Sluice.Configuration;
using Sluice.Generations;

namespace Sluice.Providers.Simulated;

/// <summary>
/// The built-in provider: deterministic text from a seed, with a configurable time to first token, rate,
/// length, tool calls, citations and failures (API.md section 5, <c>simulate</c>). It needs nothing outside
/// the process, so Sluice's main job runs anywhere, and tests and benchmarks can shape a provider exactly.
/// Delays run on the injected <see cref="TimeProvider"/>.
/// </summary>
internal sealed class SimulatedChatClient(string providerName, TimeProvider time) : IChatClient
{
    private static readonly string[] Words =
    [
        "the", "stream", "resumes", "exactly", "where", "it", "stopped", "and", "every", "token", "arrives", "once",
        "in", "order", "while", "clients", "come", "and", "go", "a", "gateway", "keeps", "the", "log", "durable",
        "so", "nothing", "is", "lost", "operators", "sleep", "through", "the", "night", "providers", "fail", "over",
        "before", "the", "first", "byte", "is", "written", "proxies", "never", "buffer", "heartbeats", "keep", "connections", "alive",
    ];

    private long _runs;

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var list = messages as IReadOnlyList<ChatMessage> ?? [.. messages];
        var shape = options?.AdditionalProperties?.TryGetValue(GenerationExecutor.SimulateOptionKey, out var value) == true && value is SimulateOptions s
            ? s
            : new SimulateOptions();
        var model = options?.ModelId ?? "default";
        var seed = shape.Seed ?? SeedOf(list);
        var words = shape.Text is { } text ? text.Split(' ') : null;
        var planned = words?.Length ?? Math.Max(0, shape.OutputTokens ?? 24);
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
        var interval = shape.TokensPerSecond is > 0 and var tps ? TimeSpan.FromSeconds(1 / tps) : TimeSpan.Zero;
        var inputTokens = list.Sum(message => CountWords(message.Text));

        if (shape.TtftMs is > 0 and var ttft)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(ttft), time, cancellationToken);
        }

        if (fail == "before_first_token")
        {
            throw new ProviderException(ErrorCodes.ProviderUnavailable, $"{providerName}: simulated failure before the first token.", true);
        }

        var random = new XorShift(seed);
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

            var word = words is not null ? words[i] : Words[random.Next(Words.Length)];
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

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is null && serviceType.IsInstanceOfType(this) ? this : null;

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

    /// <summary>A fixed generator: System.Random's seeded sequence is not promised across runtime versions.</summary>
    private struct XorShift(int seed)
    {
        private uint _state = seed == 0 ? 0x9E3779B9u : (uint)seed;

        public int Next(int bound)
        {
            _state ^= _state << 13;
            _state ^= _state >> 17;
            _state ^= _state << 5;
            return (int)(_state % (uint)bound);
        }
    }
}
