namespace Sluice.Storage;

/// <summary>
/// Checks, before the host starts, that the store can be used as configured; throws
/// <see cref="Configuration.StoreStartupException"/> with one line for the operator when it cannot (a Redis that
/// may evict keys). Run by the host's entry point, so that the refusal is that one line and not a hosted service's
/// stack trace.
/// </summary>
internal interface IStoreStartupCheck
{
    ValueTask CheckAsync(CancellationToken cancellationToken);
}

/// <summary>The embedded stores have nothing to check that their constructors do not.</summary>
internal sealed class EmbeddedStoreStartupCheck : IStoreStartupCheck
{
    public ValueTask CheckAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;
}
