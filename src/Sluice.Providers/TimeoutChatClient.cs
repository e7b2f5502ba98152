using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using Sluice.Errors;

namespace Sluice.Providers;

/// <summary>
/// The provider pipeline's timeouts: a stream with no output within the first-token timeout, or silent for the
/// idle timeout after it started, fails with a retryable <c>provider_timeout</c> (before its first token the
/// chain can still fall back). Runs on the injected clock; the caller's own cancellation passes through as is.
/// </summary>
internal sealed class TimeoutChatClient(IChatClient inner, TimeSpan firstToken, TimeSpan idle, TimeProvider time) : DelegatingChatClient(inner)
{
    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using var timeout = new CancellationTokenSource(Timeout.InfiniteTimeSpan, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        timeout.CancelAfter(firstToken);
        var sawOutput = false;
        var enumerator = base.GetStreamingResponseAsync(messages, options, linked.Token).GetAsyncEnumerator(linked.Token);
        try
        {
            while (true)
            {
                try
                {
                    if (!await enumerator.MoveNextAsync())
                    {
                        yield break;
                    }
                }
                catch (Exception) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
                {
                    throw new ProviderException(ErrorCodes.ProviderTimeout, sawOutput
                        ? $"The provider sent nothing for {idle.TotalSeconds:0.###} s."
                        : $"The provider sent no output within {firstToken.TotalSeconds:0.###} s.", true);
                }

                timeout.CancelAfter(idle);
                var update = enumerator.Current;
                sawOutput = sawOutput || ProviderOutput.In(update.Contents);
                yield return update;
            }
        }
        finally
        {
            await enumerator.DisposeAsync();
        }
    }
}
