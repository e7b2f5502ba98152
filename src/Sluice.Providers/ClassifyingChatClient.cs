using System.ClientModel;
using System.Runtime.CompilerServices;
using Anthropic.Exceptions;
using Microsoft.Extensions.AI;
using Sluice.Errors;
using Sluice.Generations;

namespace Sluice.Providers;

/// <summary>
/// The provider boundary: every SDK's failure becomes a <see cref="ProviderException"/> with one of the error
/// codes of API.md section 4 (YARP's habit: catch at the boundary, classify, let the caller decide). Messages
/// name the provider and the status, never a secret or the upstream body. A stream that ends without saying why
/// (no finish reason) was truncated upstream: a failure, never a clean stop.
/// </summary>
internal sealed class ClassifyingChatClient(IChatClient inner, string provider) : DelegatingChatClient(inner)
{
    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var enumerator = base.GetStreamingResponseAsync(messages, options, cancellationToken).GetAsyncEnumerator(cancellationToken);
        var finished = false;
        try
        {
            while (true)
            {
                ChatResponseUpdate update;
                try
                {
                    if (!await enumerator.MoveNextAsync())
                    {
                        break;
                    }

                    update = enumerator.Current;
                }
                catch (Exception ex) when (!cancellationToken.IsCancellationRequested && Classify(ex, provider) is { } classified)
                {
                    throw classified;
                }

                finished = finished || update.FinishReason is not null;
                yield return update;
            }
        }
        finally
        {
            await enumerator.DisposeAsync();
        }

        if (!finished)
        {
            throw new ProviderException(ErrorCodes.ProviderUnavailable, $"{provider}'s stream ended without a finish reason.", true);
        }
    }

    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        try
        {
            return await base.GetResponseAsync(messages, options, cancellationToken);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested && Classify(ex, provider) is { } classified)
        {
            throw classified;
        }
    }

    internal static ProviderException? Classify(Exception ex, string provider) => ex switch
    {
        ProviderException => null,
        OperationCanceledException => null,
        ClientResultException { Status: 429 } => new ProviderException(ErrorCodes.RateLimited, $"{provider} is rate limiting requests (429).", true, ex),
        ClientResultException { Status: 408 or >= 500 } r => new ProviderException(ErrorCodes.ProviderUnavailable, $"{provider} failed ({r.Status}).", true, ex),
        ClientResultException { Status: >= 400 } r => new ProviderException(ErrorCodes.ProviderRejected, $"{provider} rejected the request ({r.Status}).", false, ex),
        ClientResultException => new ProviderException(ErrorCodes.ProviderUnavailable, $"{provider} could not be reached.", true, ex),
        AnthropicRateLimitException => new ProviderException(ErrorCodes.RateLimited, $"{provider} is rate limiting requests (429).", true, ex),
        AnthropicRequestTimeoutException => new ProviderException(ErrorCodes.ProviderUnavailable, $"{provider} timed out (408).", true, ex),
        Anthropic4xxException => new ProviderException(ErrorCodes.ProviderRejected, $"{provider} rejected the request.", false, ex),
        AnthropicSseException => new ProviderException(ErrorCodes.ProviderUnavailable, $"{provider} reported an error mid-stream.", true, ex),
        AnthropicException => new ProviderException(ErrorCodes.ProviderUnavailable, $"{provider} failed.", true, ex),
        HttpRequestException or IOException or System.Text.Json.JsonException => new ProviderException(ErrorCodes.ProviderUnavailable, $"{provider} could not be reached or answered malformed data.", true, ex),
        _ => new ProviderException(ErrorCodes.ProviderUnavailable, $"{provider} failed ({ex.GetType().Name}).", true, ex),
    };
}
