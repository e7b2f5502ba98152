using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Time.Testing;
using Sluice.Errors;
using Sluice.Generations;
using Sluice.Providers;
using Sluice.Resilience;
using Sluice.Testing;

namespace Sluice.Server.FunctionalTests;

/// <summary>
/// The kill-switch, resilience and failover layers and the classifier's truncation rule, each over scripted inner
/// clients on a fake clock: no sockets, no server.
/// </summary>
public sealed class ProviderLayerStackTests : IDisposable
{
    private static readonly ChatMessage[] Prompt = [new(ChatRole.User, "x")];
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 2, 12, 0, 0, TimeSpan.Zero));
    private readonly ProviderResilience _resilience;

    public ProviderLayerStackTests() => _resilience = TestResilience.Create(_time);

    public void Dispose() => _resilience.Dispose();

    [Fact]
    public async Task KillSwitch_WhileOn_FailsWithoutCallingBelow_AndOffAgain_PassesThrough()
    {
        var inner = new Script(_ => Answer("hi"));
        var client = new ChatClientBuilder(inner).UseKillSwitch("p", _resilience).Build();
        await _resilience.KillAsync("p", TimeSpan.FromMinutes(1), "game day", "key_1", CancellationToken.None);

        var error = await Assert.ThrowsAsync<ProviderException>(() => ReadAsync(client));
        Assert.Equal((ErrorCodes.ProviderKilled, false, true), (error.Code, error.Retryable, error.NoAttempt));
        Assert.Equal(0, inner.Calls);

        await _resilience.ReviveAsync("p", CancellationToken.None);
        Assert.Equal(["hi"], Texts(await ReadAsync(client)));
    }

    [Fact]
    public async Task Resilience_RetriesAFailureBeforeExposure_AndMarksWhereTheNewAttemptStarts()
    {
        // The first attempt gave a token, held by the caller (not exposed), then failed.
        var inner = new Script(call => call == 1 ? Fail(Unavailable(), "lost") : Answer("kept"));
        var client = new ChatClientBuilder(inner).UseResilience("p", _resilience, _time).Build();

        var updates = await ReadAsync(client, new Exposure());

        Assert.Equal(2, inner.Calls);
        var marker = Assert.IsType<ProviderAttemptContent>(Assert.Single(updates[1].Contents));
        Assert.Null(marker.Target); // the same link again
        Assert.Equal(ErrorCodes.ProviderUnavailable, marker.PreviousFailure?.Code);
        Assert.Equal(["lost", "kept"], Texts(updates));
        Assert.Equal((2, 1), (_resilience.StateOf("p").Health.Attempts, _resilience.StateOf("p").Health.Failures));
    }

    [Fact]
    public async Task Resilience_OnceTheCallerHasExposedOutput_DoesNotRetry()
    {
        var inner = new Script(_ => Fail(Unavailable(), "shown"));
        var client = new ChatClientBuilder(inner).UseResilience("p", _resilience, _time).Build();

        var error = await Assert.ThrowsAsync<ProviderException>(() => ReadAsync(client, new Exposure { Exposed = true }));

        Assert.Equal(ErrorCodes.ProviderUnavailable, error.Code);
        Assert.Equal(1, inner.Calls);
    }

    [Fact]
    public async Task Resilience_WithoutAnExposure_CountsWhatItYieldedAsExposed()
    {
        var inner = new Script(_ => Fail(Unavailable(), "shown"));
        var client = new ChatClientBuilder(inner).UseResilience("p", _resilience, _time).Build();

        await Assert.ThrowsAsync<ProviderException>(() => ReadAsync(client));

        Assert.Equal(1, inner.Calls);
    }

    [Fact]
    public async Task Resilience_AnOpenCircuit_RefusesWithoutACall_AndDoesNotChargeHealthAgain()
    {
        var inner = new Script(_ => Fail(Unavailable()));
        var client = new ChatClientBuilder(inner).UseResilience("p", _resilience, _time).Build();
        for (var i = 0; i < 3; i++)
        {
            await Assert.ThrowsAsync<ProviderException>(() => ReadAsync(client, new Exposure { Exposed = true }));
        }

        var calls = inner.Calls;
        var attempts = _resilience.StateOf("p").Health.Attempts;
        var open = await Assert.ThrowsAsync<ProviderException>(() => ReadAsync(client));

        Assert.True(open.NoAttempt);
        Assert.Equal(calls, inner.Calls);
        Assert.Equal(attempts, _resilience.StateOf("p").Health.Attempts);
        Assert.Equal("down", _resilience.StateOf("p").State);
    }

    [Fact]
    public async Task Resilience_TheTotalTimeout_SpansTheWholeStream()
    {
        var inner = new Script(_ => Hang("first"));
        var client = new ChatClientBuilder(inner).UseResilience("p", _resilience, _time).Build();
        await using var updates = client.GetStreamingResponseAsync(Prompt, ChatOptionsWith(new Exposure { Exposed = true })).GetAsyncEnumerator();

        Assert.True(await updates.MoveNextAsync());
        var next = updates.MoveNextAsync();
        _time.Advance(TimeSpan.FromSeconds(5));

        var error = await Assert.ThrowsAsync<ProviderException>(async () => await next);
        Assert.Equal(ErrorCodes.ProviderTimeout, error.Code);
    }

    [Fact]
    public async Task Resilience_TheCallersCancellation_IsNeitherRetriedNorCharged()
    {
        using var cancel = new CancellationTokenSource();
        var inner = new Script(_ => Hang("first"));
        var client = new ChatClientBuilder(inner).UseResilience("p", _resilience, _time).Build();
        await using var updates = client.GetStreamingResponseAsync(Prompt, ChatOptionsWith(new Exposure()), cancel.Token).GetAsyncEnumerator(cancel.Token);

        Assert.True(await updates.MoveNextAsync());
        var next = updates.MoveNextAsync();
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await next);
        Assert.Equal(1, inner.Calls);
        Assert.Equal(0, _resilience.StateOf("p").Health.Attempts);
    }

    [Fact]
    public async Task Failover_MovesToTheNextLink_OnlyBeforeExposure_NamingWhoServesAndWhy()
    {
        var first = Target("a", new Script(_ => Fail(Unavailable(), "held")));
        var second = Target("b", new Script(_ => Answer("served")));
        var client = new FallbackChainChatClient([first, second]);

        var updates = await ReadAsync(client, new Exposure());

        var markers = updates.SelectMany(u => u.Contents).OfType<ProviderAttemptContent>().ToList();
        Assert.Equal([first, second], markers.Select(m => m.Target));
        Assert.Equal([null, ErrorCodes.ProviderUnavailable], markers.Select(m => m.PreviousFailure?.Code));
        Assert.Equal(["held", "served"], Texts(updates));
    }

    [Fact]
    public async Task Failover_AfterExposure_FailsWithoutTryingTheNextLink()
    {
        var second = new Script(_ => Answer("never"));
        var client = new FallbackChainChatClient([Target("a", new Script(_ => Fail(Unavailable(), "shown"))), Target("b", second)]);

        var error = await Assert.ThrowsAsync<ProviderException>(() => ReadAsync(client, new Exposure { Exposed = true }));

        Assert.Equal(ErrorCodes.ProviderUnavailable, error.Code);
        Assert.Equal(0, second.Calls);
    }

    [Fact]
    public async Task Failover_TheLastLinksFailure_IsTheGenerations_AndAnUnclassifiedOneIsWrapped()
    {
        var client = new FallbackChainChatClient([Target("a", new Script(_ => Fail(Unavailable()))), Target("b", new Script(_ => Fail(new InvalidOperationException("boom"))))]);

        var error = await Assert.ThrowsAsync<ProviderException>(() => ReadAsync(client, new Exposure()));

        Assert.Equal((ErrorCodes.ProviderUnavailable, true), (error.Code, error.Retryable));
        Assert.Contains("InvalidOperationException", error.Message, StringComparison.Ordinal);
        Assert.IsType<InvalidOperationException>(error.InnerException);
    }

    [Fact]
    public async Task Classification_AStreamWithoutAFinishReason_IsATruncation_NotAStop()
    {
        var client = new ChatClientBuilder(new Script(_ => Words("cut"))).UseClassification("upstream").Build();

        var error = await Assert.ThrowsAsync<ProviderException>(() => ReadAsync(client));

        Assert.Equal((ErrorCodes.ProviderUnavailable, true), (error.Code, error.Retryable));
        Assert.Contains("without a finish reason", error.Message, StringComparison.Ordinal);
    }

    private static ProviderException Unavailable() => new(ErrorCodes.ProviderUnavailable, "down", true);

    private static ProviderTarget Target(string name, IChatClient client) => new(name, "m", "simulated", client);

    private static ChatOptions ChatOptionsWith(Exposure? exposure) =>
        new() { AdditionalProperties = exposure is null ? null : new() { [ProviderPipeline.ExposureKey] = exposure } };

    private static async Task<List<ChatResponseUpdate>> ReadAsync(IChatClient client, Exposure? exposure = null)
    {
        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in client.GetStreamingResponseAsync(Prompt, ChatOptionsWith(exposure)))
        {
            updates.Add(update);
        }

        return updates;
    }

    private static List<string> Texts(List<ChatResponseUpdate> updates) =>
        [.. updates.SelectMany(u => u.Contents).OfType<TextContent>().Select(t => t.Text)];

    private static async IAsyncEnumerable<ChatResponseUpdate> Words(params string[] words)
    {
        foreach (var word in words)
        {
            await Task.Yield();
            yield return new ChatResponseUpdate(ChatRole.Assistant, word);
        }
    }

    private static async IAsyncEnumerable<ChatResponseUpdate> Answer(string text)
    {
        await foreach (var update in Words(text))
        {
            yield return update;
        }

        yield return new ChatResponseUpdate { FinishReason = ChatFinishReason.Stop };
    }

    private static async IAsyncEnumerable<ChatResponseUpdate> Fail(Exception error, params string[] before)
    {
        await foreach (var update in Words(before))
        {
            yield return update;
        }

        throw error;
    }

    private async IAsyncEnumerable<ChatResponseUpdate> Hang(string first, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        yield return new ChatResponseUpdate(ChatRole.Assistant, first);
        await Task.Delay(Timeout.InfiniteTimeSpan, _time, cancellationToken);
    }

    private sealed class Exposure : IGenerationExposure
    {
        public bool Exposed { get; set; }
    }

    /// <summary>An inner client whose n-th call (from 1) streams what the script gives for n.</summary>
    private sealed class Script(Func<int, IAsyncEnumerable<ChatResponseUpdate>> stream) : IChatClient
    {
        private int _calls;

        public int Calls => Volatile.Read(ref _calls);

        public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
            IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            await foreach (var update in stream(Interlocked.Increment(ref _calls)).WithCancellation(cancellationToken))
            {
                yield return update;
            }
        }

        public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
            GetStreamingResponseAsync(messages, options, cancellationToken).ToChatResponseAsync(cancellationToken);

        public object? GetService(Type serviceType, object? serviceKey = null) => null;

        public void Dispose()
        {
        }
    }
}
