using Microsoft.Extensions.Time.Testing;
using Sluice.Errors;
using Sluice.Resilience;
using Sluice.Testing;

namespace Sluice.Core.Tests.Resilience;

/// <summary>The resilience layer alone, on a fake clock: retry while nothing is exposed, the breaker, the total timeout, the kill-switch.</summary>
public sealed class ProviderResilienceTests : IDisposable
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 2, 12, 0, 0, TimeSpan.Zero));
    private readonly ProviderResilience _resilience;

    public ProviderResilienceTests() => _resilience = TestResilience.Create(_time);

    public void Dispose() => _resilience.Dispose();

    private static ProviderException Unavailable() => new(ErrorCodes.ProviderUnavailable, "down", true);

    [Fact]
    public async Task ARetryableFailure_IsRetried_WhileNothingWasExposed()
    {
        var attempts = 0;

        await _resilience.ExecuteAsync("p", _ => ++attempts < 3 ? throw Unavailable() : Task.CompletedTask, () => true, CancellationToken.None);

        Assert.Equal(3, attempts);
    }

    [Fact]
    public async Task OnceSomethingWasExposed_ThereIsNoRetry()
    {
        var attempts = 0;

        await Assert.ThrowsAsync<ProviderException>(() => _resilience.ExecuteAsync("p", _ => { attempts++; throw Unavailable(); }, () => false, CancellationToken.None));

        Assert.Equal(1, attempts);
    }

    [Fact]
    public async Task RepeatedFailures_OpenTheCircuit_AndThenNoCallIsMade()
    {
        for (var i = 0; i < 3; i++)
        {
            await Assert.ThrowsAsync<ProviderException>(() => _resilience.ExecuteAsync("p", _ => throw Unavailable(), () => false, CancellationToken.None));
        }

        var called = false;
        var open = await Assert.ThrowsAsync<ProviderException>(() => _resilience.ExecuteAsync("p", _ => { called = true; return Task.CompletedTask; }, () => false, CancellationToken.None));

        Assert.False(called);
        Assert.True(open.NoAttempt);
        Assert.Equal("down", _resilience.StateOf("p").State);
    }

    [Fact]
    public async Task ACallPastTheTotalTimeout_FailsWithProviderTimeout()
    {
        var call = _resilience.ExecuteAsync("p", ct => Task.Delay(Timeout.InfiniteTimeSpan, _time, ct), () => false, CancellationToken.None);
        _time.Advance(TimeSpan.FromSeconds(5));

        var error = await Assert.ThrowsAsync<ProviderException>(() => call);
        Assert.Equal((ErrorCodes.ProviderTimeout, false), (error.Code, error.NoAttempt));
    }

    [Fact]
    public async Task AKillSwitch_HoldsUntilItExpires_AndSaysSoOnce()
    {
        var expired = 0;
        _resilience.KillSwitchExpired += (_, _) => expired++;

        await _resilience.KillAsync("p", TimeSpan.FromMinutes(1), "game day", "key_1", CancellationToken.None);
        Assert.Equal("game day", _resilience.KillSwitchOf("p")?.Reason);
        Assert.Equal("killed", _resilience.StateOf("p").State);

        _time.Advance(TimeSpan.FromMinutes(1));
        Assert.Null(_resilience.KillSwitchOf("p"));
        Assert.Null(_resilience.KillSwitchOf("p"));
        Assert.Equal(1, expired);
    }
}
