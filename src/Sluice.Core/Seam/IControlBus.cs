namespace Sluice.Cluster;

/// <summary>One operator change the other nodes must apply (API.md section 9): a lever, a revocation, a cancel.</summary>
/// <param name="Version">The cluster's change counter after this change: changes apply in this order.</param>
/// <param name="Kind">One of <see cref="ControlKinds"/>.</param>
/// <param name="Data">The change: the lever's whole new state, or the key, provider or generation it names.</param>
/// <param name="Origin">The process that made it, which applied it already.</param>
internal sealed record ControlChange(long Version, string Kind, string Data, string Origin);

internal static class ControlKinds
{
    /// <summary>The emergency rate limit's state (JSON, or empty when lifted).</summary>
    public const string Emergency = "emergency";

    /// <summary>The whole list of shed endpoints (JSON array).</summary>
    public const string Shed = "shed";

    /// <summary>The runtime limit overrides (JSON, 0 = the configured value).</summary>
    public const string Limits = "limits";

    /// <summary>A key id revoked: caches forget it, its open responses end.</summary>
    public const string Revoke = "revoke";

    /// <summary>A provider whose kill-switch was set or lifted: read again from the store.</summary>
    public const string KillSwitch = "kill_switch";

    /// <summary>Broadcast-reconnect with this retry (ms).</summary>
    public const string Broadcast = "broadcast";

    /// <summary>A generation to cancel (tenant/id): its owner does it.</summary>
    public const string Cancel = "cancel";

    /// <summary>The kinds whose latest change is the lever's state, kept for nodes that start later.</summary>
    public static bool IsState(string kind) => kind is Emergency or Shed or Limits;
}

/// <summary>
/// How operator changes reach every node: each change is stored in a bounded log under a cluster-wide version, and
/// announced; a node applies the log after the version it applied last. The announcement is the fast path (well
/// under the 2 s of API.md section 9); every node also reads the version every second, so a node whose subscription
/// died applies the change within the 5 s all the same. The embedded stores have one node, which applies its own
/// changes directly: their bus carries nothing.
/// </summary>
internal interface IControlBus
{
    /// <summary>True when other processes share the bus.</summary>
    bool Shared { get; }

    /// <summary>This process' id, the <see cref="ControlChange.Origin"/> of what it publishes.</summary>
    string Origin { get; }

    /// <summary>Stores the change (and, for a state kind, the lever's state), and announces it; returns its version.</summary>
    ValueTask<long> PublishAsync(string kind, string data, CancellationToken cancellationToken);

    /// <summary>
    /// The current version and the changes after <paramref name="afterVersion"/>, oldest first (at most
    /// <paramref name="max"/>); <c>Complete</c> false when the log no longer holds all of them.
    /// </summary>
    ValueTask<(long Version, IReadOnlyList<ControlChange> Changes, bool Complete)> ReadAfterAsync(long afterVersion, int max, CancellationToken cancellationToken);

    /// <summary>The latest state of each state kind, with the version it was read at.</summary>
    ValueTask<(long Version, IReadOnlyDictionary<string, string> State)> StateAsync(CancellationToken cancellationToken);

    /// <summary>Calls <paramref name="announced"/> whenever a change is announced (a hint: read the log).</summary>
    ValueTask SubscribeAsync(Action announced, CancellationToken cancellationToken);
}

/// <summary>One node: nothing to tell anyone.</summary>
internal sealed class LocalControlBus : IControlBus
{
    public bool Shared => false;

    public string Origin { get; } = Guid.NewGuid().ToString("N");

    public ValueTask<long> PublishAsync(string kind, string data, CancellationToken cancellationToken) => ValueTask.FromResult(0L);

    public ValueTask<(long Version, IReadOnlyList<ControlChange> Changes, bool Complete)> ReadAfterAsync(long afterVersion, int max, CancellationToken cancellationToken) =>
        ValueTask.FromResult<(long, IReadOnlyList<ControlChange>, bool)>((0, [], true));

    public ValueTask<(long Version, IReadOnlyDictionary<string, string> State)> StateAsync(CancellationToken cancellationToken) =>
        ValueTask.FromResult<(long, IReadOnlyDictionary<string, string>)>((0, new Dictionary<string, string>()));

    public ValueTask SubscribeAsync(Action announced, CancellationToken cancellationToken) => ValueTask.CompletedTask;
}
