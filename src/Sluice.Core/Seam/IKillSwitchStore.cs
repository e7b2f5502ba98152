namespace Sluice.Resilience;

/// <summary>
/// Operators' kill-switches in the store, so a restart (or a rolling deploy) does not quietly put a provider an
/// operator switched off back into traffic before its expiry. The seam a cluster shares them through.
/// </summary>
internal interface IKillSwitchStore
{
    /// <summary>Records <paramref name="kill"/> for <paramref name="provider"/>, or removes it when null.</summary>
    ValueTask SetAsync(string provider, KillSwitch? kill, CancellationToken cancellationToken);

    /// <summary>The switches that have not expired at <paramref name="now"/>.</summary>
    ValueTask<IReadOnlyDictionary<string, KillSwitch>> ActiveAsync(DateTimeOffset now, CancellationToken cancellationToken);
}
