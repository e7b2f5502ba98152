using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Sluice.Configuration;
using Sluice.Fanout;
using Sluice.Generations;
using Sluice.Ops;
using Sluice.Storage;
using Sluice.Streams;
using Sluice.Testing;

namespace Sluice.Core.Tests.Generations;

/// <summary>Every way a generation ends goes through one finisher: terminal event, then the final record.</summary>
public sealed class GenerationFinisherTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 2, 12, 0, 0, TimeSpan.Zero));
    private readonly MemoryEventLog _log;
    private readonly StreamHub _hub;
    private readonly MemoryGenerationStore _store = new();
    private readonly OpsMetricsAggregator _ops;
    private readonly GenerationFinisher _finisher;
    private readonly ProviderTarget _target = new("sim", "default", ProviderTarget.SimulatedType, null!);

    public GenerationFinisherTests()
    {
        var options = new StaticOptions(new SluiceOptions());
        _log = new MemoryEventLog();
        _hub = new StreamHub(_log, new InProcessLiveFeed(), options, _time);
        _ops = new OpsMetricsAggregator(_time);
        _finisher = new GenerationFinisher(_hub, _store, _ops, _time, null, NullLogger<GenerationFinisher>.Instance);
    }

    private static GenerationRecord Record(string id) => new() { Id = id, Tenant = "acme", Model = "sim/default", Status = GenerationStatus.Running, Channel = "chat" };

    private async Task<List<StoredEvent>> EventsAsync(GenerationRecord record) => [.. await _log.ReadAsync(record.StreamKey, 0, 100, CancellationToken.None)];

    public static TheoryData<string, string, string?, string?> Endings() => new()
    {
        { "finished", "done", "stop", null },
        { "cancelled", "done", "cancelled", null },
        { "failed", "error", null, "provider_unavailable" },
        { "withheld", "safe_response", "contract_violation", "contract_violation" },
        { "lost", "error", null, "worker_lost" },
    };

    [Theory]
    [MemberData(nameof(Endings))]
    public async Task EachEnding_WritesItsTerminalEvent_ThenTheRecordThatSaysSo(string kind, string eventType, string? finishReason, string? errorCode)
    {
        var record = Record("gen_" + kind);
        var ending = kind switch
        {
            "finished" => GenerationEnding.Finished("stop"),
            "cancelled" => GenerationEnding.Cancelled,
            "failed" => GenerationEnding.Failed("provider_unavailable", "down", true),
            "withheld" => GenerationEnding.Withheld("contract_violation", GenerationEvents.ContractViolationText, "The output failed its response contract."),
            _ => GenerationEnding.WorkerLost("The node stopped."),
        };

        var final = await _finisher.FinishAsync(record, ending, new GenerationFacts(_target, 3, 7, 120, TimeSpan.FromMilliseconds(900)));

        var terminal = Assert.Single(await EventsAsync(record));
        Assert.Equal(eventType, terminal.Type);
        Assert.Equal(ending.Status, final.Status);
        Assert.Equal(finishReason, final.FinishReason);
        Assert.Equal(errorCode, final.ErrorCode);
        Assert.Equal((1L, 7L, 900L, "sim"), (final.LastEventId, final.OutputTokens!.Value, final.E2eMs!.Value, final.Provider));
        Assert.Equal(_time.GetUtcNow(), final.CompletedAt);
        Assert.Equal(final, await _store.GetAsync("acme", record.Id, CancellationToken.None));
        Assert.Equal(7, Assert.Single(_ops.SnapshotAndTrim()).OutputTokens);
    }

    [Fact]
    public async Task Finished_ReleasesTheHeldOutputBeforeDone()
    {
        var record = Record("gen_held");

        await _finisher.FinishAsync(record, GenerationEnding.Finished("stop"), new GenerationFacts(_target, 1, 2, 50, TimeSpan.FromSeconds(1)),
            released: [GenerationEvents.Token("{\"a\":"), GenerationEvents.Token("1}")]);

        Assert.Equal(["token", "token", "done"], (await EventsAsync(record)).Select(e => e.Type));
        using var done = JsonDocument.Parse((await EventsAsync(record))[^1].Data);
        Assert.Equal(2, done.RootElement.GetProperty("usage").GetProperty("output_tokens").GetInt32());
    }

    [Fact]
    public async Task AStreamThatAlreadyEnded_KeepsItsTerminalEvent_AndOnlyTheRecordCatchesUp()
    {
        var record = Record("gen_recovered");
        await _hub.PublishAsync(record.StreamKey, [GenerationEvents.Done("stop", 0, 1, null, 5, "sim", "default")], CancellationToken.None);

        var final = await _finisher.FinishAsync(record, GenerationEnding.WorkerLost("The node that ran this generation stopped."));

        Assert.Single(await EventsAsync(record));
        Assert.Equal((GenerationStatus.Failed, "worker_lost", 1L), (final.Status, final.ErrorCode, final.LastEventId));
        // Without facts nothing is counted: a recovered record's run was counted by the node that ran it, if at all.
        Assert.Empty(_ops.SnapshotAndTrim());
    }
}
