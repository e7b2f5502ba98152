using System.Net.ServerSentEvents;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Time.Testing;
using Sluice.Testing;

namespace Sluice.Server.FunctionalTests;

/// <summary>
/// Issue 5's must-show: a <c>simulated</c> provider failing at a set rate under concurrent load opens its circuit,
/// traffic moves to the fallback, the circuit half-opens (one trial, the rest still fall back) and closes when the
/// provider recovers, and no client ever sees a token twice. The failure rate is changed live through
/// configuration reload, as an operator would on a game day; the breaker runs on a fake clock.
/// </summary>
public sealed class CircuitUnderLoadTests : IAsyncLifetime
{
    private const int Concurrency = 16;
    private const string Prompt = """{"model":"chat","messages":[{"role":"user","content":"what happens when a provider fails"}]}""";
    private static readonly TimeSpan TrialTtft = TimeSpan.FromMilliseconds(777); // a due time no other timer of Sluice has
    private readonly WatchedClock _time = new(DateTimeOffset.UtcNow);
    private readonly LiveSettings _live = new(new Dictionary<string, string?>
    {
        ["Sluice:Providers:flaky:Simulate:FailRate"] = "0.5",
        ["Sluice:Providers:flaky:Simulate:TtftMs"] = "0",
    });

    private SluiceTestServer _server = null!;
    private HttpClient _client = null!;
    private string _expectedText = null!;

    public async Task InitializeAsync()
    {
        _server = await SluiceTestServer.StartAsync("sqlite", new Dictionary<string, string>
        {
            ["Sluice:Providers:flaky:Type"] = "simulated",
            // On a fake clock the simulated providers run without delays, 24 tokens each.
            ["Sluice:Providers:flaky:Simulate:TokensPerSecond"] = "0",
            ["Sluice:Providers:flaky:Simulate:OutputTokens"] = "24",
            ["Sluice:Providers:simulated:Simulate:TtftMs"] = "0",
            ["Sluice:Providers:simulated:Simulate:TokensPerSecond"] = "0",
            ["Sluice:Providers:simulated:Simulate:OutputTokens"] = "24",
            ["Sluice:Providers:flaky:CircuitBreaker:MinimumThroughput"] = "10",
            ["Sluice:Providers:flaky:CircuitBreaker:FailureRatio"] = "0.4",
            ["Sluice:Providers:flaky:CircuitBreaker:SamplingDuration"] = "00:10:00",
            ["Sluice:Providers:flaky:CircuitBreaker:BreakDuration"] = "00:00:30",
            ["Sluice:Models:chat:Chain:0"] = "flaky/default",
            ["Sluice:Models:chat:Chain:1"] = "simulated/default",
        }, configure: b =>
        {
            ((IConfigurationBuilder)b.Configuration).Add(_live);
            b.Services.Replace(ServiceDescriptor.Singleton<TimeProvider>(_time));
        });
        _client = _server.CreateClient();

        // Both providers are the simulated one, so the same prompt gives the same text from either: a token
        // written twice (a fallback after exposure) would show as a longer text.
        var direct = Prompt.Replace("\"chat\"", "\"simulated/default\"", StringComparison.Ordinal);
        var id = (await _client.CreateGenerationAsync(direct)).GetProperty("id").GetString()!;
        _expectedText = GenerationApi.Text(await _client.ReadEventsAsync(id));
        Assert.Equal(24, _expectedText.Split(' ').Length);
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task FailingAtASetRate_UnderLoad_TheCircuitOpens_TrafficFallsBack_ThenHalfOpensAndCloses_WithNoRepeatedToken()
    {
        // One run in two fails before its first token, 16 clients at a time.
        var failing = await LoadAsync(120);
        Assert.Contains(failing, r => r.Provider == "flaky");
        Assert.Contains(failing, r => r.Provider == "simulated");
        var open = await _client.ProviderHealthAsync("flaky");
        Assert.Equal("open", open.GetProperty("circuit_state").GetString());
        Assert.Equal("down", open.GetProperty("state").GetString());
        var attempts = open.GetProperty("attempts5m").GetInt32();
        Assert.InRange(attempts, 10, 119); // once open, generations stopped calling it at all

        // While open, every generation goes straight to the fallback.
        Assert.All(await LoadAsync(40), r => Assert.Equal("simulated", r.Provider));
        Assert.Equal(attempts, (await _client.ProviderHealthAsync("flaky")).GetProperty("attempts5m").GetInt32());

        // The provider recovers, slowly at first: its trial run waits on the fake clock before its first token.
        _live.Change("Sluice:Providers:flaky:Simulate:FailRate", "0");
        _live.Change("Sluice:Providers:flaky:Simulate:TtftMs", TrialTtft.TotalMilliseconds.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var trialWaits = _time.TimerCreated(TrialTtft);
        _time.Advance(TimeSpan.FromSeconds(31));
        var trialId = (await _client.CreateGenerationAsync(Prompt)).GetProperty("id").GetString()!;
        var trial = _client.ReadEventsAsync(trialId);
        var halfOpen = await WaitCircuitAsync("half_open");
        Assert.Equal("degraded", halfOpen.GetProperty("state").GetString());

        // Half-open lets one trial through; everything else still falls back meanwhile.
        Assert.All(await LoadAsync(Concurrency), r => Assert.Equal("simulated", r.Provider));

        // Once the trial waits for its first token, move the clock to it; the success closes the circuit.
        await trialWaits.WaitAsync(TimeSpan.FromSeconds(30));
        _time.Advance(TrialTtft);
        var trialItems = await trial;
        Assert.Equal("flaky", Check(trialItems).Provider);
        var closed = await _client.ProviderHealthAsync("flaky");
        Assert.Equal("closed", closed.GetProperty("circuit_state").GetString());

        // Recovered: under the same load, the primary serves every generation again.
        _live.Change("Sluice:Providers:flaky:Simulate:TtftMs", "0");
        Assert.All(await LoadAsync(60), r => Assert.Equal("flaky", r.Provider));
        var recovered = await _client.ProviderHealthAsync("flaky");
        Assert.Equal("closed", recovered.GetProperty("circuit_state").GetString());
        Assert.True(recovered.GetProperty("success_rate").GetDouble() > open.GetProperty("success_rate").GetDouble());
    }

    private async Task<Outcome[]> LoadAsync(int count)
    {
        var results = new Outcome[count];
        var next = -1;
        await Task.WhenAll(Enumerable.Range(0, Concurrency).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < count)
            {
                var id = (await _client.CreateGenerationAsync(Prompt)).GetProperty("id").GetString()!;
                results[i] = Check(await _client.ReadEventsAsync(id));
            }
        }));
        return results;
    }

    /// <summary>One client's whole stream: ids 1..n in order, one run's text exactly, and a clean <c>done</c>.</summary>
    private Outcome Check(List<SseItem<string>> items)
    {
        Assert.Equal(Enumerable.Range(1, items.Count).Select(n => n.ToString(System.Globalization.CultureInfo.InvariantCulture)), items.Select(i => i.EventId));
        Assert.DoesNotContain(items, i => i.EventType == "error");
        Assert.Equal("done", items[^1].EventType);
        Assert.Equal(_expectedText, GenerationApi.Text(items));
        Assert.Equal(24, items.Count(i => i.EventType == "token"));
        var done = JsonDocument.Parse(items[^1].Data).RootElement;
        Assert.Equal(24, done.GetProperty("usage").GetProperty("output_tokens").GetInt32());
        return new Outcome(done.GetProperty("provider").GetString()!);
    }

    private async Task<JsonElement> WaitCircuitAsync(string state)
    {
        for (var attempt = 0; ; attempt++)
        {
            var provider = await _client.ProviderHealthAsync("flaky");
            if (provider.GetProperty("circuit_state").GetString() == state || attempt > 2_000)
            {
                Assert.Equal(state, provider.GetProperty("circuit_state").GetString());
                return provider;
            }

            await Task.Yield();
        }
    }


    private sealed record Outcome(string Provider);

    /// <summary>Configuration that changes while the server runs, raising the same reload a changed appsettings.json raises.</summary>
    private sealed class LiveSettings(IDictionary<string, string?> initial) : ConfigurationProvider, IConfigurationSource
    {
        public override void Load()
        {
            foreach (var (key, value) in initial)
            {
                Data[key] = value;
            }
        }

        public void Change(string key, string value)
        {
            Data[key] = value;
            OnReload();
        }

        public IConfigurationProvider Build(IConfigurationBuilder builder) => this;
    }

    /// <summary>A fake clock that says when a timer with a given due time is created (Task.Delay on it creates one).</summary>
    private sealed class WatchedClock(DateTimeOffset start) : FakeTimeProvider(start)
    {
        private readonly System.Collections.Concurrent.ConcurrentDictionary<TimeSpan, TaskCompletionSource> _watched = new();

        public Task TimerCreated(TimeSpan dueTime) =>
            _watched.GetOrAdd(dueTime, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            var timer = base.CreateTimer(callback, state, dueTime, period);
            if (_watched.TryGetValue(dueTime, out var created))
            {
                created.TrySetResult();
            }

            return timer;
        }
    }
}
