namespace Sluice.Storage;

/// <summary>
/// What the metrics say of the store: <c>sluice_store_up</c> and <c>sluice_store_resubscribes_total</c>. A backend
/// reached over the network probes itself (its commands and its live-feed subscription); the embedded stores are in
/// the process and always up.
/// </summary>
internal interface IStoreStatus
{
    /// <summary>True while the last probe reached the store.</summary>
    bool IsUp { get; }

    /// <summary>Times the live feed subscribed again after its subscription was lost (reconnected or found dead).</summary>
    long Resubscribes { get; }
}

/// <summary>Memory and SQLite: in the process, so never down and never resubscribing.</summary>
internal sealed class EmbeddedStoreStatus : IStoreStatus
{
    public bool IsUp => true;

    public long Resubscribes => 0;
}
