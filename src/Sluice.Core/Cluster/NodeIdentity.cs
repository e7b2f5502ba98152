using Microsoft.Extensions.Options;
using Sluice.Configuration;

namespace Sluice.Cluster;

/// <summary>
/// This node's name (<c>Sluice:NodeId</c>, default host name + port) and its own address. The port and the address
/// are known once the server listens, so the HTTP layer calls <see cref="Resolve"/> at start; until then the name
/// is the configured one, or the host name.
/// </summary>
internal sealed class NodeIdentity
{
    private readonly string? _configuredId;
    private readonly string? _configuredAddress;
    private readonly TaskCompletionSource _resolved = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public NodeIdentity(IOptions<SluiceOptions> options, TimeProvider time)
    {
        _configuredId = options.Value.NodeId;
        _configuredAddress = options.Value.Cluster.Address;
        Id = _configuredId ?? Environment.MachineName;
        Address = _configuredAddress;
        StartedAt = time.GetUtcNow();
    }

    public string Id { get; private set; }

    public string? Address { get; private set; }

    public DateTimeOffset StartedAt { get; }

    /// <summary>Completes once <see cref="Resolve"/> ran: the registry announces the node with its final name.</summary>
    public Task Resolved => _resolved.Task;

    /// <summary>Settles the name and address from the addresses the server listens on (<c>http://127.0.0.1:8080</c>, <c>http://[::]:80</c>).</summary>
    public void Resolve(IEnumerable<string> listening)
    {
        var first = listening.Select(a => Uri.TryCreate(a.Replace("://*", "://0.0.0.0", StringComparison.Ordinal).Replace("://+", "://0.0.0.0", StringComparison.Ordinal), UriKind.Absolute, out var u) ? u : null)
            .FirstOrDefault(u => u is not null);
        if (first is not null)
        {
            var wildcard = first.Host is "0.0.0.0" or "[::]" or "::";
            Id = _configuredId ?? Environment.MachineName + ":" + first.Port;
            Address = _configuredAddress ?? new UriBuilder(first) { Host = wildcard ? Environment.MachineName : first.Host }.Uri.ToString().TrimEnd('/');
        }

        _resolved.TrySetResult();
    }
}
