using System.Threading.RateLimiting;
using Microsoft.Extensions.Time.Testing;
using Sluice.Configuration;
using Sluice.Protection;
using Sluice.Testing;

namespace Sluice.Core.Tests.Protection;

public sealed class AdjustableConcurrencyLimiterTests
{
    private readonly FakeTimeProvider _time = new();
    private int _limit = 2;

    private AdjustableConcurrencyLimiter Limiter() => new(() => _limit, _time);

    [Fact]
    public void UpToTheLimit_ThenRefusedAtOnce_AndALeaseGivesItsPlaceBackOnce()
    {
        using var limiter = Limiter();
        var a = limiter.AttemptAcquire();
        using var b = limiter.AttemptAcquire();
        using var refused = limiter.AttemptAcquire();

        Assert.True(a.IsAcquired && b.IsAcquired);
        Assert.False(refused.IsAcquired);
        Assert.Equal(0, limiter.GetStatistics()!.CurrentAvailablePermits);
        a.Dispose();
        a.Dispose();
        refused.Dispose();
        Assert.Equal(1, limiter.Held);
    }

    [Fact]
    public async Task AChangedLimit_AppliesAtOnce_KeepingTheLeasesAlreadyGranted()
    {
        using var limiter = Limiter();
        var held = new List<RateLimitLease> { limiter.AttemptAcquire(), limiter.AttemptAcquire() };

        _limit = 1;
        using (var refused = await limiter.AcquireAsync())
        {
            Assert.False(refused.IsAcquired);
        }

        held[0].Dispose();
        using (var stillRefused = limiter.AttemptAcquire())
        {
            Assert.False(stillRefused.IsAcquired); // one is still held, and the limit is one
        }

        _limit = 3;
        held.Add(limiter.AttemptAcquire());
        held.Add(limiter.AttemptAcquire());
        Assert.All(held.Skip(1), l => Assert.True(l.IsAcquired));
        Assert.Equal(3, limiter.Held);
        held.ForEach(l => l.Dispose());
        Assert.Equal(0, limiter.Held);
    }

    [Fact]
    public void IdleDuration_CountsFromTheLastRelease_SoAPartitionedLimiterCanDropIt()
    {
        using var limiter = Limiter();
        var lease = limiter.AttemptAcquire();
        Assert.Null(limiter.IdleDuration);

        lease.Dispose();
        _time.Advance(TimeSpan.FromSeconds(30));

        Assert.Equal(TimeSpan.FromSeconds(30), limiter.IdleDuration);
    }

    [Fact]
    public void TenantQuotas_CountEachTenantApart_WithTheLiveLimit()
    {
        var options = new SluiceOptions { Limits = { MaxStreamsPerTenant = 1 } };
        using var quotas = new TenantQuotas(new RuntimeControls(new StaticOptions(options)), _time);

        using var acme = quotas.AcquireStream("acme");
        using var acmeAgain = quotas.AcquireStream("acme");
        using var globex = quotas.AcquireStream("globex");
        using var generation = quotas.AcquireGeneration("acme");

        Assert.True(acme.IsAcquired);
        Assert.False(acmeAgain.IsAcquired);
        Assert.True(globex.IsAcquired);
        Assert.True(generation.IsAcquired);
    }
}
