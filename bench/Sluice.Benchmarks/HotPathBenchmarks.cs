using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Sluice.Configuration;
using Sluice.Fanout;
using Sluice.Storage;
using Sluice.Streams;

namespace Sluice.Benchmarks;

/// <summary>
/// The per-event hot paths. CI-worthy figures are the allocations (MemoryDiagnoser), not the times:
/// announcing to N subscribers must allocate nothing per subscriber, and a frame is encoded once.
/// </summary>
[MemoryDiagnoser]
public class HotPathBenchmarks
{
    private static readonly StreamKey Key = new("bench", "s");
    private InProcessLiveFeed _feed = null!;
    private StreamHub _hub = null!;
    private readonly List<Subscription> _subscriptions = [];
    private readonly List<IDisposable> _watches = [];
    private long _nextId;

    [Params(1, 1000)]
    public int Subscribers { get; set; }

    [GlobalSetup]
    public async Task SetupAsync()
    {
        var options = new StaticOptions(new SluiceOptions());
        var time = new FakeTimeProvider();
        var log = new MemoryEventLog();
        _feed = new InProcessLiveFeed();
        _hub = new StreamHub(log, _feed, options, time);
        for (var i = 0; i < Subscribers; i++)
        {
            var subscription = _hub.CreateSubscription(Key, CancellationToken.None);
            _subscriptions.Add(subscription);
            _watches.Add(await _hub.WatchAsync(subscription));
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _watches.ForEach(w => w.Dispose());
        _subscriptions.ForEach(s => s.Dispose());
    }

    /// <summary>One announced event reaching every subscriber (ring write + one signal each).</summary>
    [Benchmark]
    public void Announce()
    {
        var e = new StoredEvent(++_nextId, EventTypes.Token, "{\"text\":\"hello\"}", DateTimeOffset.UnixEpoch);
        _feed.Announce(Key, [e]);
    }

    /// <summary>Encoding one event's SSE frame (done once per event, shared by every connection).</summary>
    [Benchmark]
    public ReadOnlyMemory<byte> EncodeFrame() =>
        new StoredEvent(42, EventTypes.Token, "{\"text\":\"hello world, this is a token\"}", DateTimeOffset.UnixEpoch).Frame;

    private sealed class StaticOptions(SluiceOptions value) : IOptionsMonitor<SluiceOptions>
    {
        public SluiceOptions CurrentValue => value;

        public SluiceOptions Get(string? name) => value;

        public IDisposable? OnChange(Action<SluiceOptions, string?> listener) => null;
    }
}
