using Sluice.Testing;

namespace Sluice.Server.FunctionalTests;

/// <summary>Failed authentications are limited per client address, taken from X-Forwarded-For only behind a trusted proxy.</summary>
public sealed class FailedAuthThrottleTests
{
    private const int Burst = 30;

    [Fact]
    public async Task AGuesser_Gets429WithRetryAfter_OnceItsFailuresRunOut()
    {
        await using var server = await SluiceTestServer.StartAsync("memory");
        using var guesser = server.CreateClient("sk_guess_000000000000000000000000");

        for (var i = 0; i < Burst; i++)
        {
            using var refused = await guesser.GetAsync("/v1/models");
            await refused.ProblemAsync(401);
        }

        using var throttled = await guesser.GetAsync("/v1/models");
        Assert.Equal("too_many_failed_authentications", (await throttled.ProblemAsync(429)).GetProperty("code").GetString());
        Assert.NotNull(throttled.Headers.RetryAfter);
        // Health needs no credential and is never throttled.
        using var anonymous = server.CreateClient(key: null);
        using var live = await anonymous.GetAsync("/health/live");
        Assert.True(live.IsSuccessStatusCode);
    }

    [Fact]
    public async Task BehindATrustedProxy_EachForwardedClientHasItsOwnBudget_AndOthersAreNotLockedOut()
    {
        await using var server = await SluiceTestServer.StartAsync("memory", new Dictionary<string, string> { ["Sluice:TrustedProxies:0"] = "127.0.0.1" });

        for (var i = 0; i < Burst; i++)
        {
            using var refused = await SendAsync(server, "sk_guess_000000000000000000000000", "203.0.113.5");
            await refused.ProblemAsync(401);
        }

        using var throttled = await SendAsync(server, "sk_guess_000000000000000000000000", "203.0.113.5");
        await throttled.ProblemAsync(429);
        using var neighbour = await SendAsync(server, SluiceTestServer.AdminKey, "203.0.113.6");
        await Api.EnsureAsync(neighbour, 200);
        using var direct = await SendAsync(server, SluiceTestServer.AdminKey, null);
        await Api.EnsureAsync(direct, 200);
    }

    [Fact]
    public async Task WithoutATrustedProxy_XForwardedForIsIgnored_SoItCannotDodgeTheLimit()
    {
        await using var server = await SluiceTestServer.StartAsync("memory");

        for (var i = 0; i < Burst; i++)
        {
            using var refused = await SendAsync(server, "sk_guess_000000000000000000000000", $"198.51.100.{i}");
            await refused.ProblemAsync(401);
        }

        using var throttled = await SendAsync(server, "sk_guess_000000000000000000000000", "198.51.100.200");
        await throttled.ProblemAsync(429);
    }

    private static async Task<HttpResponseMessage> SendAsync(SluiceTestServer server, string key, string? forwardedFor)
    {
        using var client = server.CreateClient(key);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/models");
        if (forwardedFor is not null)
        {
            request.Headers.Add("X-Forwarded-For", forwardedFor);
        }

        return await client.SendAsync(request);
    }
}
