using Sluice.Configuration;

namespace Sluice.Core.Tests.Configuration;

public sealed class SluiceOptionsValidatorTests
{
    [Fact]
    public void Validate_Defaults_Succeed() => Assert.True(new SluiceOptionsValidator().Validate(null, new SluiceOptions()).Succeeded);

    [Fact]
    public void Validate_EachBadValue_FailsNamingItsKey()
    {
        var options = new SluiceOptions
        {
            Store = "postgres",
            AdminKey = "short",
            TokenSigningKey = "not-base64!",
            Heartbeat = TimeSpan.Zero,
            Retry = TimeSpan.FromHours(2),
            Retention = { MaxEventsPerStream = 0, Age = TimeSpan.Zero },
            Limits = { MaxEventBytes = 10, SubscriberBufferEvents = 0, MaxSseConnections = 0, MaxBodyBytes = 100 },
            Cors = { Origins = ["*", "https://ok.example.com", "https://bad.example.com/path"] },
            Sqlite = { Synchronous = "off" },
        };

        var result = new SluiceOptionsValidator().Validate(null, options);

        Assert.True(result.Failed);
        foreach (var key in new[]
        {
            "Sluice:Store", "Sluice:AdminKey", "Sluice:TokenSigningKey", "Sluice:Heartbeat", "Sluice:Retry",
            "Sluice:Retention:MaxEventsPerStream", "Sluice:Retention:Age", "Sluice:Limits:MaxEventBytes",
            "Sluice:Limits:SubscriberBufferEvents", "Sluice:Limits:MaxSseConnections", "Sluice:Limits:MaxBodyBytes",
            "Sluice:Cors:Origins:0", "Sluice:Cors:Origins:2", "Sluice:Sqlite:Synchronous",
        })
        {
            Assert.Contains(key, result.FailureMessage, StringComparison.Ordinal);
        }

        Assert.DoesNotContain("Sluice:Cors:Origins:1", result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_RedisWithoutConnectionString_NamesSluiceRedis() =>
        Assert.Contains("Sluice:Redis", new SluiceOptionsValidator().Validate(null, new SluiceOptions { Store = "redis" }).FailureMessage, StringComparison.Ordinal);
}
