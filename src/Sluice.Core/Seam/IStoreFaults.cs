namespace Sluice.Storage;

/// <summary>
/// Tells a store outage from a bug: the HTTP layer answers the first with <c>503</c> + <c>Retry-After</c>
/// (<c>store_unavailable</c>, API.md section 9) and logs only the second as an internal error. Each backend knows
/// which of its client library's exceptions mean "unreachable"; the embedded stores have none.
/// </summary>
internal interface IStoreFaults
{
    /// <summary>True when <paramref name="exception"/> (or one it wraps) says the store could not be reached in time.</summary>
    bool IsUnavailable(Exception exception);
}

/// <summary>The embedded stores (memory, SQLite) are in the process: they are never unreachable.</summary>
internal sealed class EmbeddedStoreFaults : IStoreFaults
{
    public bool IsUnavailable(Exception exception) => false;
}
