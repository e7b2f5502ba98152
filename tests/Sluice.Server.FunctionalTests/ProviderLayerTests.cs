using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Time.Testing;
using Sluice.Errors;
using Sluice.Providers;

namespace Sluice.Server.FunctionalTests;

/// <summary>The provider pipeline's layers, each alone over a scripted inner client on a fake clock: no sockets.</summary>
public sealed class ProviderLayerTests
{
    private static readonly TimeSpan FirstToken = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan Idle = TimeSpan.FromSeconds(3);
    private readonly FakeTimeProvider _time = new();
    private readonly ScriptedChatClient _inner = new();

    private IChatClient Timeouts() => new ChatClientBuilder(_inner).UseTimeouts(FirstToken, Idle, _time).Build();

    [Fact]
    public async Task Timeouts_NoOutputWithinTheFirstTokenTimeout_FailsRetryablyWithProviderTimeout()
    {
        await using var updates = Timeouts().GetStreamingResponseAsync([new ChatMessage(ChatRole.User, "x")]).GetAsyncEnumerator();

        var next = updates.MoveNextAsync();
        _time.Advance(FirstToken - TimeSpan.FromMilliseconds(1));
        Assert.False(next.IsCompleted);
        _time.Advance(TimeSpan.FromMilliseconds(1));

        var error = await Assert.ThrowsAsync<ProviderException>(async () => await next);
        Assert.Equal((ErrorCodes.ProviderTimeout, true), (error.Code, error.Retryable));
        Assert.Contains("no output within 10 s", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Timeouts_SilenceAfterOutput_FailsWithTheIdleTimeout_AndUpdatesPassThroughUnchanged()
    {
        await using var updates = Timeouts().GetStreamingResponseAsync([new ChatMessage(ChatRole.User, "x")]).GetAsyncEnumerator();
        var sent = new ChatResponseUpdate(ChatRole.Assistant, "hello");
        _inner.Send(sent);

        Assert.True(await updates.MoveNextAsync());
        Assert.Same(sent, updates.Current);
        var next = updates.MoveNextAsync();
        _time.Advance(Idle);

        var error = await Assert.ThrowsAsync<ProviderException>(async () => await next);
        Assert.Contains("sent nothing for 3 s", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Timeouts_TheCallersCancellation_IsNotATimeout()
    {
        using var cancel = new CancellationTokenSource();
        await using var updates = Timeouts().GetStreamingResponseAsync([new ChatMessage(ChatRole.User, "x")], cancellationToken: cancel.Token).GetAsyncEnumerator();

        var next = updates.MoveNextAsync();
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await next);
    }

    [Fact]
    public async Task Timeouts_AStreamThatEnds_Ends()
    {
        await using var updates = Timeouts().GetStreamingResponseAsync([new ChatMessage(ChatRole.User, "x")]).GetAsyncEnumerator();
        _inner.Send(new ChatResponseUpdate(ChatRole.Assistant, "a"));
        _inner.End();

        Assert.True(await updates.MoveNextAsync());
        Assert.False(await updates.MoveNextAsync());
    }

    [Theory]
    [InlineData(429, "rate_limited", true)]
    [InlineData(503, "provider_unavailable", true)]
    [InlineData(400, "provider_rejected", false)]
    public async Task Classification_TurnsAnSdkFailureIntoAContractCode_AfterTheUpdatesBeforeIt(int status, string code, bool retryable)
    {
        var client = new ChatClientBuilder(_inner).UseClassification("upstream").Build();
        await using var updates = client.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, "x")]).GetAsyncEnumerator();
        _inner.Send(new ChatResponseUpdate(ChatRole.Assistant, "partial"));
        _inner.Fail(new System.ClientModel.ClientResultException($"status {status}", new StatusResponse(status)));

        Assert.True(await updates.MoveNextAsync());
        var error = await Assert.ThrowsAsync<ProviderException>(async () => await updates.MoveNextAsync());

        Assert.Equal((code, retryable), (error.Code, error.Retryable));
        Assert.Contains("upstream", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("status " + status, error.Message, StringComparison.Ordinal); // never the upstream's own text
    }

    [Fact]
    public async Task Classification_LeavesTheCallersCancellationAlone()
    {
        using var cancel = new CancellationTokenSource();
        var client = new ChatClientBuilder(_inner).UseClassification("upstream").Build();
        await using var updates = client.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, "x")], cancellationToken: cancel.Token).GetAsyncEnumerator();

        var next = updates.MoveNextAsync();
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await next);
    }

    /// <summary>A pipeline response with only a status, as the OpenAI SDK's ClientResultException carries.</summary>
    private sealed class StatusResponse(int status) : System.ClientModel.Primitives.PipelineResponse
    {
        public override int Status => status;

        public override string ReasonPhrase => "";

        public override Stream? ContentStream { get; set; }

        public override BinaryData Content => BinaryData.Empty;

        protected override System.ClientModel.Primitives.PipelineResponseHeaders HeadersCore => throw new NotSupportedException();

        public override BinaryData BufferContent(CancellationToken cancellationToken = default) => BinaryData.Empty;

        public override ValueTask<BinaryData> BufferContentAsync(CancellationToken cancellationToken = default) => ValueTask.FromResult(BinaryData.Empty);

        public override void Dispose()
        {
        }
    }

    /// <summary>An inner client whose stream yields what the test sends, when it sends it.</summary>
    private sealed class ScriptedChatClient : IChatClient
    {
        private readonly Channel<ChatResponseUpdate> _updates = Channel.CreateUnbounded<ChatResponseUpdate>();

        public void Send(ChatResponseUpdate update) => _updates.Writer.TryWrite(update);

        public void End() => _updates.Writer.TryComplete();

        public void Fail(Exception error) => _updates.Writer.TryComplete(error);

        public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
            IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            await foreach (var update in _updates.Reader.ReadAllAsync(cancellationToken))
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
