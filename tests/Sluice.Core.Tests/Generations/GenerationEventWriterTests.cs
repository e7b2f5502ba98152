using Microsoft.Extensions.Time.Testing;
using Sluice.Configuration;
using Sluice.Fanout;
using Sluice.Generations;
using Sluice.Storage;
using Sluice.Streams;
using Sluice.Testing;

namespace Sluice.Core.Tests.Generations;

public sealed class GenerationEventWriterTests
{
    private static readonly StreamKey Key = new("acme", "generation/gen_w");
    private readonly FakeTimeProvider _time = new();
    private readonly MemoryEventLog _log;
    private readonly StreamHub _hub;

    public GenerationEventWriterTests()
    {
        var options = new StaticOptions(new SluiceOptions());
        _log = new MemoryEventLog();
        _hub = new StreamHub(_log, new InProcessLiveFeed(), options, _time);
    }

    [Fact]
    public async Task EveryEventLandsOnce_InOrder_EachWithItsOwnId()
    {
        var writer = new GenerationEventWriter(_hub, Key);
        for (var i = 0; i < 500; i++)
        {
            writer.Add(GenerationEvents.Token($"t{i}"));
        }

        writer.Add(GenerationEvents.Done("stop", 1, 500, 10, 20, "sim", "default"));
        await writer.FlushAsync();

        var stored = await _log.ReadAsync(Key, 0, 1000, CancellationToken.None);
        Assert.Equal(501, stored.Count);
        Assert.Equal(Enumerable.Range(1, 501).Select(i => (long)i), stored.Select(e => e.Id));
        Assert.Equal("{\"text\":\"t499\"}", stored[499].Data);
        Assert.Equal((501, 501L, false), (writer.Written, writer.LastId, writer.StreamClosed));
    }

    [Fact]
    public async Task AClosedStream_FailsTheFlush_AndSaysItWasClosed()
    {
        await _hub.PublishAsync(Key, [GenerationEvents.Error("worker_lost", "gone", true)], CancellationToken.None);
        var writer = new GenerationEventWriter(_hub, Key);

        writer.Add(GenerationEvents.Token("late"));

        await Assert.ThrowsAsync<InvalidOperationException>(writer.FlushAsync);
        Assert.True(writer.StreamClosed);
        Assert.Throws<InvalidOperationException>(() => writer.Add(GenerationEvents.Token("later")));
        Assert.Single(await _log.ReadAsync(Key, 0, 10, CancellationToken.None));
    }
}
