using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using Sluice.Errors;
using Sluice.Resilience;

namespace Sluice.Providers;

/// <summary>
/// The operator's kill-switch: while the provider is switched off (<c>POST /v1/ops/llm/providers/{p}/kill-switch</c>)
/// a call fails at once with <c>provider_killed</c>, reaching nothing below it, so the chain moves to the next link
/// or the generation fails fast. Read at each call, so a switch and its expiry take effect on the next generation.
/// </summary>
internal sealed class KillSwitchChatClient(IChatClient inner, string provider, ProviderResilience resilience) : DelegatingChatClient(inner)
{
    public override IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        resilience.KillSwitchOf(provider) is null ? base.GetStreamingResponseAsync(messages, options, cancellationToken) : Killed(cancellationToken);

    public override Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        resilience.KillSwitchOf(provider) is null ? base.GetResponseAsync(messages, options, cancellationToken) : Task.FromException<ChatResponse>(Error());

    // An iterator, so the failure surfaces where a stream's failures do: at its first MoveNextAsync.
    private async IAsyncEnumerable<ChatResponseUpdate> Killed([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await Task.CompletedTask;
        cancellationToken.ThrowIfCancellationRequested();
        throw Error();
#pragma warning disable CS0162 // an iterator needs a yield to be one
        yield break;
#pragma warning restore CS0162
    }

    private ProviderException Error() =>
        new(ErrorCodes.ProviderKilled, $"{provider} is switched off by an operator.", false) { NoAttempt = true };
}
