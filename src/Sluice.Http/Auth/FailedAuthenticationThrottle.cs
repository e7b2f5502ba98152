using System.Net;
using System.Net.Sockets;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http;

namespace Sluice.Http.Auth;

/// <summary>
/// Failed authentications per client address: each unknown key costs a store lookup, and guessing costs the
/// guesser nothing. 30 failures may come at once, then one per 2 s; past that the address's requests that carry a
/// credential get <c>429</c> with <c>Retry-After</c> before any lookup. The address is the TCP peer, or the
/// <c>X-Forwarded-For</c> client when the peer is one of <c>Sluice:TrustedProxies</c> (behind nginx every peer
/// is 127.0.0.1, and one guesser must not lock everyone out). IPv6 clients count per /64.
/// </summary>
internal sealed class FailedAuthenticationThrottle : IDisposable
{
    public const int Burst = 30;
    public static readonly TimeSpan Refill = TimeSpan.FromSeconds(2);

    // System.Threading.RateLimiting's partitioned limiter drops a partition once it is idle and full again, so
    // the addresses it tracks are those that failed lately, not every one ever seen.
    private readonly PartitionedRateLimiter<string> _failures = PartitionedRateLimiter.Create<string, string>(
        address => RateLimitPartition.GetTokenBucketLimiter(address, static _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = Burst,
            TokensPerPeriod = 1,
            ReplenishmentPeriod = Refill,
            QueueLimit = 0,
            AutoReplenishment = true,
        }));

    /// <summary>True when the caller's address has no failures left: answer 429 without looking anything up.</summary>
    public bool IsBlocked(HttpContext context) => _failures.GetStatistics(AddressOf(context))?.CurrentAvailablePermits is 0;

    public void RecordFailure(HttpContext context)
    {
        using var lease = _failures.AttemptAcquire(AddressOf(context));
    }

    public void Dispose() => _failures.Dispose();

    internal static string AddressOf(HttpContext context)
    {
        var address = context.Connection.RemoteIpAddress;
        if (address is null)
        {
            return "unknown";
        }

        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            var bytes = address.GetAddressBytes();
            Array.Clear(bytes, 8, 8);
            return new IPAddress(bytes) + "/64";
        }

        return address.ToString();
    }
}
