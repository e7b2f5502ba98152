using Microsoft.Extensions.Time.Testing;
using Sluice.Ops;

namespace Sluice.Core.Tests.Ops;

public sealed class OpsMetricsAggregatorTests
{
    [Fact]
    public void ChannelsPastTheCap_CountAsOther_PerTenantAndHour()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 2, 10, 0, 0, TimeSpan.Zero));
        var aggregator = new OpsMetricsAggregator(time);

        for (var i = 0; i < 100; i++)
        {
            aggregator.Generation("acme", $"channel-{i}", 10, 20, outputTokens: 1);
        }

        aggregator.Generation("acme", "channel-3", 10, 20, outputTokens: 1);
        aggregator.Generation("globex", "channel-99", 10, 20, outputTokens: 1);
        var rows = aggregator.SnapshotAndTrim();

        var acme = rows.Where(r => r.Tenant == "acme").ToList();
        Assert.Equal(OpsMetricsAggregator.MaxChannelsPerTenantHour + 1, acme.Count);
        Assert.Equal(2, acme.Single(r => r.Channel == "channel-3").OutputTokens);
        Assert.Equal(100 - OpsMetricsAggregator.MaxChannelsPerTenantHour, acme.Single(r => r.Channel == OpsMetricsAggregator.OtherChannel).OutputTokens);
        Assert.Equal(101, acme.Sum(r => r.OutputTokens));
        // Another tenant's channels have their own cap.
        Assert.Single(rows, r => r.Tenant == "globex" && r.Channel == "channel-99");

        // A new hour starts a new count.
        time.Advance(TimeSpan.FromHours(1));
        aggregator.Generation("acme", "channel-new", 10, 20, outputTokens: 1);
        Assert.Contains(aggregator.SnapshotAndTrim(), r => r.Channel == "channel-new");
    }
}
