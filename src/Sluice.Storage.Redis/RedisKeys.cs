using Sluice.Streams;
using StackExchange.Redis;

namespace Sluice.Storage.Redis;

/// <summary>
/// Every key Sluice uses, under one prefix. A stream's keys carry its name as a hash tag (<c>{tenant/stream}</c>),
/// so that they share a Redis Cluster slot and one script can touch them all. Tenants and stream ids cannot
/// hold braces (<see cref="Identifiers"/>), so the tag is exactly the stream.
/// </summary>
internal sealed class RedisKeys(string prefix)
{
    public string Prefix { get; } = prefix;

    /// <summary>The Redis Stream of the stream's events; entry ids are <c>{id}-0</c>.</summary>
    public RedisKey Events(StreamKey key) => $"{Prefix}:s:{{{key.Tenant}/{key.StreamId}}}:e";

    /// <summary>The stream's meta hash: first, last, created, last_at, closed.</summary>
    public RedisKey Meta(StreamKey key) => $"{Prefix}:s:{{{key.Tenant}/{key.StreamId}}}:m";

    /// <summary>The pub/sub channel the append script publishes each batch on.</summary>
    public RedisChannel Live(StreamKey key) => RedisChannel.Literal($"{Prefix}:s:{{{key.Tenant}/{key.StreamId}}}:live");

    /// <summary>A generation's lease on its stream: the holder's token, expiring after the lease ttl (<c>SET NX PX</c>).</summary>
    public RedisKey Lease(StreamKey key) => $"{Prefix}:s:{{{key.Tenant}/{key.StreamId}}}:lease";

    /// <summary>The token of the lease's last taker, kept while the lease itself may lapse: it decides who may renew a lapsed lease.</summary>
    public RedisKey LeaseOwner(StreamKey key) => $"{Prefix}:s:{{{key.Tenant}/{key.StreamId}}}:owner";

    /// <summary>A sorted set of leased streams by when their lease expires (score, ms of the holder's clock): the reapers' index.</summary>
    public RedisKey LeasesByExpiry => $"{Prefix}:leases";

    /// <summary>A sorted set of every stream by its last event time (score, ms), for age retention.</summary>
    public RedisKey StreamsByAge => $"{Prefix}:streams";

    public string Named(string name) => $"{Prefix}:{name}";
}
