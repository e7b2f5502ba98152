using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using Sluice.Errors;
using Sluice.Generations;
using Sluice.Resilience;

namespace Sluice.Providers;

/// <summary>
/// The provider's Polly pipeline (<see cref="ProviderResilience"/>: retry while nothing is exposed, circuit breaker,
/// total timeout) around a whole stream, and the provider's health from each attempt's outcome. A retry starts
/// with a <see cref="ProviderAttemptContent"/>, so the caller voids what the failed attempt gave it.
/// </summary>
/// <remarks>
/// Polly runs a delegate and has no streaming form. The delegate here does not read the stream: it hands its
/// token to this iterator and waits for the iterator to report how the stream ended. So updates flow straight
/// from the layer below to the caller (no channel, no second task per update), Polly still sees each attempt
/// whole (its timeout spans the stream, its breaker counts a mid-stream failure), and it decides a retry only
/// while the caller is idle, so the caller's exposure it reads is settled.
/// </remarks>
internal sealed class ResilienceChatClient(IChatClient inner, string provider, ProviderResilience resilience, TimeProvider time) : DelegatingChatClient(inner)
{
    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var attempts = new Attempts(provider, resilience, time, ProviderPipeline.ExposureOf(options));
        attempts.Start(cancellationToken);
        try
        {
            while (await attempts.NextAsync() is { } token)
            {
                if (attempts.Count > 1)
                {
                    yield return ProviderAttemptContent.Update(null, attempts.LastFailure);
                }

                var updates = base.GetStreamingResponseAsync(messages, options, token).GetAsyncEnumerator(token);
                try
                {
                    while (await attempts.MoveNextAsync(updates))
                    {
                        yield return updates.Current;
                    }
                }
                finally
                {
                    await updates.DisposeAsync();
                }
            }
        }
        finally
        {
            await attempts.AbandonAsync();
        }
    }

    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        ChatResponse? response = null;
        await resilience.ExecuteAsync(provider, async token => response = await base.GetResponseAsync(messages, options, token), static () => true, cancellationToken);
        return response!;
    }

    /// <summary>The hand-off between Polly's delegate (one call per attempt) and the iterator that reads the stream.</summary>
    private sealed class Attempts(string provider, ProviderResilience resilience, TimeProvider time, IGenerationExposure? exposure) : IProviderAttempt
    {
        private TaskCompletionSource<CancellationToken> _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private TaskCompletionSource? _outcome;
        private Task _pipeline = Task.CompletedTask;
        private bool _yielded;
        private long _attemptStarted;
        private double? _ttftMs;
        private bool _ended;
        private volatile bool _pipelineDone;

        public int Count { get; private set; }

        public ProviderException? LastFailure { get; private set; }

        public bool CanRetry => !(exposure?.Exposed ?? _yielded);

        public void Start(CancellationToken cancellationToken) => _pipeline = RunPipelineAsync(cancellationToken);

        /// <summary>The next attempt's token, or null when the pipeline is done; its failure is thrown here.</summary>
        [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
        public async ValueTask<CancellationToken?> NextAsync()
        {
            var started = _started;
            var token = await started.Task;
            if (!_pipelineDone)
            {
                _started = new TaskCompletionSource<CancellationToken>(TaskCreationOptions.RunContinuationsAsynchronously);
                Count++;
                _attemptStarted = time.GetTimestamp();
                _ttftMs = null;
                return token;
            }

            _ended = true;
            try
            {
                await _pipeline;
            }
            // An open circuit made no call: nothing to charge the provider's health with.
            catch (Exception ex) when (ex is not OperationCanceledException and not ProviderException { NoAttempt: true })
            {
                resilience.Report(provider, false, _ttftMs);
                throw;
            }

            resilience.Report(provider, true, _ttftMs);
            return null;
        }

        /// <summary>Reads the next update; the stream's end or failure goes to Polly as the attempt's outcome.</summary>
        /// <remarks>Pooled: a real provider's every token completes this asynchronously, which boxed a new state machine per token.</remarks>
        [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
        public async ValueTask<bool> MoveNextAsync(IAsyncEnumerator<ChatResponseUpdate> updates)
        {
            bool more;
            try
            {
                more = await updates.MoveNextAsync();
            }
            catch (Exception ex)
            {
                LastFailure = ex as ProviderException;
                _outcome!.TrySetException(ex);
                return false;
            }

            if (!more)
            {
                _outcome!.TrySetResult();
                return false;
            }

            if (_ttftMs is null && ProviderOutput.In(updates.Current.Contents))
            {
                _ttftMs = time.GetElapsedTime(_attemptStarted).TotalMilliseconds;
            }

            _yielded = true;
            return true;
        }

        /// <summary>The caller stopped reading (or the pipeline ended): the attempt in flight ends as cancelled.</summary>
        public async Task AbandonAsync()
        {
            if (_ended)
            {
                return;
            }

            _outcome?.TrySetCanceled();
            try
            {
                await _pipeline;
            }
            catch (Exception)
            {
                // Nobody reads this stream any more; its outcome has no one to tell.
            }
        }

        private async Task RunPipelineAsync(CancellationToken cancellationToken)
        {
            try
            {
                await resilience.ExecuteAsync(provider, this, cancellationToken);
            }
            finally
            {
                // Wakes NextAsync whether the pipeline ran its last attempt or refused the first (an open circuit).
                _pipelineDone = true;
                _started.TrySetResult(default);
            }
        }

        public Task RunAsync(CancellationToken token)
        {
            var outcome = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _outcome = outcome;
            _started.TrySetResult(token);
            return outcome.Task;
        }
    }
}
