using Microsoft.Extensions.AI;
using Sluice.Errors;

namespace Sluice.Generations;

/// <summary>
/// What the provider pipeline's layers (in <c>Sluice.Providers</c>) and the generation that reads them agree on:
/// whether anything of the generation has reached a client yet, and where a new attempt starts in the stream.
/// </summary>
internal static class ProviderPipeline
{
    /// <summary>The <see cref="ChatOptions.AdditionalProperties"/> key of the caller's <see cref="IGenerationExposure"/>.</summary>
    public const string ExposureKey = "sluice.exposure";

    /// <summary>The caller's exposure, or null: then a layer counts anything it has yielded as exposed.</summary>
    public static IGenerationExposure? ExposureOf(ChatOptions? options) =>
        options?.AdditionalProperties is { } properties && properties.TryGetValue(ExposureKey, out var value) ? value as IGenerationExposure : null;
}

/// <summary>
/// Whether a generation has shown anything to a client. Retry and failover are allowed only while it has not:
/// with a response contract the output is held until it passes, so a layer cannot tell this from what it yielded.
/// </summary>
internal interface IGenerationExposure
{
    bool Exposed { get; }
}

/// <summary>
/// An update's content marking the start of an attempt: whatever the stream carried before it is void (it was
/// never exposed, or the layer would not have started again). <see cref="Target"/> is null when the same target
/// is tried again (a retry); <see cref="PreviousFailure"/> is why the attempt before it failed.
/// </summary>
internal sealed class ProviderAttemptContent(ProviderTarget? target, ProviderException? previousFailure) : AIContent
{
    public ProviderTarget? Target { get; } = target;

    public ProviderException? PreviousFailure { get; } = previousFailure;

    public static ChatResponseUpdate Update(ProviderTarget? target, ProviderException? previousFailure) =>
        new() { Contents = [new ProviderAttemptContent(target, previousFailure)] };
}
