using Microsoft.Extensions.AI;
using Sluice.Errors;
using Sluice.Resilience;

namespace Sluice.Providers;

/// <summary>
/// The layers of a provider target's pipeline. <see cref="ChatClientBuilder"/> applies the last <c>Use</c> first,
/// so a target is built outermost first: kill-switch, resilience, timeouts, classification, then the SDK.
/// </summary>
internal static class ProviderPipelineExtensions
{
    /// <summary>Fails at once with <c>provider_killed</c> while an operator has the provider switched off.</summary>
    public static ChatClientBuilder UseKillSwitch(this ChatClientBuilder builder, string provider, ProviderResilience resilience) =>
        builder.Use(inner => new KillSwitchChatClient(inner, provider, resilience));

    /// <summary>The provider's Polly pipeline (retry, circuit breaker, total timeout) and its health.</summary>
    public static ChatClientBuilder UseResilience(this ChatClientBuilder builder, string provider, ProviderResilience resilience, TimeProvider time) =>
        builder.Use(inner => new ResilienceChatClient(inner, provider, resilience, time));

    /// <summary>First-token and idle timeouts on <paramref name="time"/>.</summary>
    public static ChatClientBuilder UseTimeouts(this ChatClientBuilder builder, TimeSpan firstToken, TimeSpan idle, TimeProvider time) =>
        builder.Use(inner => new TimeoutChatClient(inner, firstToken, idle, time));

    /// <summary>Every SDK failure becomes a <see cref="ProviderException"/> with a contract error code.</summary>
    public static ChatClientBuilder UseClassification(this ChatClientBuilder builder, string provider) =>
        builder.Use(inner => new ClassifyingChatClient(inner, provider));
}

/// <summary>What the pipeline's layers count as output (the first-token timeout, the health's time to first token).</summary>
internal static class ProviderOutput
{
    // A loop, not LINQ's Any: that allocated an enumerator per update (~600 B per 16-token generation).
    public static bool In(IList<AIContent> contents)
    {
        for (var i = 0; i < contents.Count; i++)
        {
            if (contents[i] is TextContent { Text.Length: > 0 } or FunctionCallContent)
            {
                return true;
            }
        }

        return false;
    }
}
