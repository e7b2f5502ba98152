using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using Sluice.Errors;
using Sluice.Generations;

namespace Sluice.Providers;

/// <summary>
/// A model's fallback chain as one client: each link in order, moving to the next only while nothing of the
/// generation has been exposed to a client (the shape of dotnet/extensions' experimental <c>FailoverChatClient</c>,
/// whose rule, "before the first update is yielded", is not ours: with a response contract the output is held, so
/// the caller's <see cref="IGenerationExposure"/> decides). Each link starts with a <see cref="ProviderAttemptContent"/>
/// naming it and why the one before failed, so the caller voids what it held and knows who served.
/// </summary>
internal sealed class FallbackChainChatClient(IReadOnlyList<ProviderTarget> chain) : IChatClient
{
    // The marker of a link tried first or after nothing failed is the same every time: one per link, shared.
    private readonly ChatResponseUpdate[] _markers = [.. chain.Select(t => ProviderAttemptContent.Update(t, null))];

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var exposure = ProviderPipeline.ExposureOf(options);
        var yielded = false;
        ProviderException? previous = null;
        for (var i = 0; i < chain.Count; i++)
        {
            var target = chain[i];
            yield return previous is null ? _markers[i] : ProviderAttemptContent.Update(target, previous);
            Exception? failure = null;
            var updates = target.Client.GetStreamingResponseAsync(messages, options, cancellationToken).GetAsyncEnumerator(cancellationToken);
            try
            {
                while (true)
                {
                    try
                    {
                        if (!await updates.MoveNextAsync())
                        {
                            break;
                        }
                    }
                    catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
                    {
                        failure = ex;
                        break;
                    }

                    yielded = yielded || !IsMarker(updates.Current);
                    yield return updates.Current;
                }
            }
            finally
            {
                await updates.DisposeAsync();
            }

            if (failure is null)
            {
                yield break;
            }

            previous = failure as ProviderException ?? new ProviderException(ErrorCodes.ProviderUnavailable, "The provider failed: " + failure.GetType().Name + ".", true, failure);
            if ((exposure?.Exposed ?? yielded) || i == chain.Count - 1)
            {
                throw previous;
            }
        }
    }

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        for (var i = 0; ; i++)
        {
            try
            {
                return await chain[i].Client.GetResponseAsync(messages, options, cancellationToken);
            }
            catch (Exception) when (!cancellationToken.IsCancellationRequested && i < chain.Count - 1)
            {
                // A whole response exposes nothing until it returns: the next link may always serve.
            }
        }
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is null && serviceType.IsInstanceOfType(this) ? this : null;

    public void Dispose()
    {
        // The links are shared by every route that names them; the catalog owns them.
    }

    private static bool IsMarker(ChatResponseUpdate update) => update.Contents is [ProviderAttemptContent];
}
