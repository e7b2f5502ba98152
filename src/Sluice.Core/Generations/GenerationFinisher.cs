using Microsoft.Extensions.Logging;
using Sluice.Diagnostics;
using Sluice.Errors;
using Sluice.Fanout;
using Sluice.Streams;

namespace Sluice.Generations;

/// <summary>How a generation ended: what its terminal event says and what its final record keeps.</summary>
internal sealed record GenerationEnding(GenerationStatus Status, string? FinishReason, string? ErrorCode, string? ErrorMessage, bool Retryable, string? SafeText)
{
    private static readonly GenerationEnding Stop = new(GenerationStatus.Succeeded, "stop", null, null, false, null);
    private static readonly GenerationEnding Length = new(GenerationStatus.Succeeded, "length", null, null, false, null);
    private static readonly GenerationEnding ToolCalls = new(GenerationStatus.Succeeded, "tool_calls", null, null, false, null);

    public static GenerationEnding Finished(string finishReason) => finishReason switch
    {
        "stop" => Stop,
        "length" => Length,
        "tool_calls" => ToolCalls,
        _ => new(GenerationStatus.Succeeded, finishReason, null, null, false, null),
    };

    public static GenerationEnding Cancelled { get; } = new(GenerationStatus.Cancelled, "cancelled", null, null, false, null);

    public static GenerationEnding Failed(string code, string message, bool retryable) => new(GenerationStatus.Failed, null, code, message, retryable, null);

    public static GenerationEnding WorkerLost(string message) => Failed(ErrorCodes.WorkerLost, message, true);

    /// <summary>The output is withheld (<c>contract_violation</c>, <c>content_filter</c>): only <paramref name="safeText"/> reaches a client.</summary>
    public static GenerationEnding Withheld(string reason, string safeText, string message) => new(GenerationStatus.Failed, reason, reason, message, false, safeText);

    internal NewEvent TerminalEvent(GenerationFacts? facts) => Status switch
    {
        GenerationStatus.Failed when SafeText is not null => GenerationEvents.SafeResponse(SafeText, FinishReason!),
        GenerationStatus.Failed => GenerationEvents.Error(ErrorCode!, ErrorMessage!, Retryable),
        _ => GenerationEvents.Done(FinishReason!, facts?.InputTokens ?? 0, facts?.OutputTokens ?? 0, facts?.TtftMs, facts?.E2eMs ?? 0, facts?.Used?.Provider, facts?.Used?.Model),
    };
}

/// <summary>What a run measured, for the terminal event, the record and the metrics.</summary>
internal readonly record struct GenerationFacts(ProviderTarget? Used, long InputTokens, long OutputTokens, long? TtftMs, TimeSpan Elapsed)
{
    public long E2eMs => (long)Elapsed.TotalMilliseconds;
}

/// <summary>
/// The one place a generation ends, whichever way it ends (finished, cancelled queued or running, failed, its
/// output withheld, its worker lost): the terminal event goes to its stream, after any output held back for
/// its response contract, and then the final record to the store, counted in the metrics before the record
/// says finished (so whoever sees the final record also sees it counted).
/// </summary>
internal sealed partial class GenerationFinisher(
    StreamHub hub, IGenerationStore store, Ops.OpsMetricsAggregator opsMetrics, TimeProvider time, SluiceMetrics? metrics, ILogger<GenerationFinisher> logger,
    Microsoft.Extensions.Options.IOptionsMonitor<Configuration.SluiceOptions>? options = null)
{
    /// <summary>
    /// How long the end of a generation waits for an unreachable store: its terminal event and final record must
    /// land (nobody else will write them on one node), but a node cannot hold the generation's slot forever.
    /// </summary>
    public static readonly TimeSpan EndingOutageBudget = TimeSpan.FromMinutes(5);

    /// <summary>How a generation ends when its writer gave up on an unreachable store (whatever ending it was given).</summary>
    public static readonly GenerationEnding OutageOutlasted =
        GenerationEnding.WorkerLost("The store was unreachable for longer than Sluice:Cluster:LeaseTtl; the generation's output could not be kept.");

    private readonly Polly.ResiliencePipeline _endingRetry = Storage.StoreOutage.Pipeline(hub.Faults, time, EndingOutageBudget);

    /// <summary>How long a running generation's output waits for an unreachable store (the lease).</summary>
    public TimeSpan OutageBudget => options?.CurrentValue.Cluster.LeaseTtl ?? TimeSpan.FromSeconds(10);

    public GenerationEventWriter WriterFor(GenerationRecord record, GenerationLease? lease) => new(hub, record.StreamKey, OutageBudget, fence: lease?.Token);

    /// <summary>Writes a record, waiting out a store outage (within <see cref="EndingOutageBudget"/>).</summary>
    public ValueTask UpdateAsync(GenerationRecord record) =>
        _endingRetry.ExecuteAsync(static (state, ct) => state.store.UpdateAsync(state.record, ct), (store, record), CancellationToken.None);

    /// <summary>
    /// Ends the generation: its terminal event through <paramref name="writer"/> (or a new one fenced by
    /// <paramref name="lease"/>), then its final record. A writer whose lease was taken over writes neither: the
    /// node that took it ended the generation, and this one's view of it is stale.
    /// </summary>
    public async Task<GenerationRecord> FinishAsync(
        GenerationRecord record, GenerationEnding ending, GenerationFacts? facts = null, GenerationEventWriter? writer = null, IReadOnlyList<NewEvent>? released = null,
        GenerationLease? lease = null)
    {
        writer ??= WriterFor(record, lease);
        if (writer.LeaseLost)
        {
            LogLeaseLost(record.Id);
            return record;
        }

        if (writer.OutageOutlasted)
        {
            // The store stayed away past the lease: what the writer buffered is gone, and the generation cannot go
            // on. A new writer waits longer for its one terminal event, after the last id that did land.
            ending = OutageOutlasted;
            released = null;
            writer = new GenerationEventWriter(hub, record.StreamKey, EndingOutageBudget, writer.LastId, writer.Fence);
        }

        foreach (var e in released ?? [])
        {
            writer.Add(e);
        }

        var lastId = writer.LastId;
        try
        {
            writer.Add(ending.TerminalEvent(facts));
            await writer.FlushAsync();
            lastId = writer.LastId;
        }
        catch (InvalidOperationException ex) when (writer.StreamClosed)
        {
            // The stream already ended (a terminal event got there first): only the record was behind.
            LogAlreadyEnded(ex.Message, record.Id);
            lastId = (await hub.Log.GetInfoAsync(record.StreamKey, CancellationToken.None))?.LastId ?? writer.LastId;
        }
        catch (InvalidOperationException) when (writer.LeaseLost)
        {
            LogLeaseLost(record.Id);
            return record;
        }
        catch (InvalidOperationException ex)
        {
            LogStreamWriteFailed(ex, record.Id);
            ending = GenerationEnding.Failed(ErrorCodes.Internal, "The generation's events could not be stored.", true);
        }

        // One copy of the record, not one per step: this runs once per generation, on every one.
        var final = record with
        {
            Status = ending.Status,
            FinishReason = ending.FinishReason,
            ErrorCode = ending.ErrorCode,
            ErrorMessage = ending.ErrorMessage,
            Provider = facts?.Used?.Provider ?? record.Provider,
            ProviderModel = facts?.Used?.Model ?? record.ProviderModel,
            InputTokens = facts?.InputTokens ?? record.InputTokens,
            OutputTokens = facts?.OutputTokens ?? record.OutputTokens,
            TtftMs = facts is { } f ? f.TtftMs : record.TtftMs,
            E2eMs = facts?.E2eMs ?? record.E2eMs,
            LastEventId = Math.Max(record.LastEventId, lastId),
            CompletedAt = time.GetUtcNow(),
        };
        if (facts is { } run)
        {
            if (run.TtftMs is { } ttft && run.Used is { } used)
            {
                metrics?.GenerationFirstToken(used.Provider, used.Model, TimeSpan.FromMilliseconds(ttft));
            }

            opsMetrics.Generation(final.Tenant, final.Channel, final.TtftMs, run.E2eMs, run.OutputTokens);
            metrics?.GenerationFinished(final.Status.ToName(), run.Used?.Provider ?? "none", run.Used?.Model ?? "none", run.Elapsed);
        }

        await UpdateAsync(final);
        return final;
    }

    [LoggerMessage(EventId = 8003, Level = LogLevel.Error, Message = "Generation {GenerationId}: its events could not be stored")]
    private partial void LogStreamWriteFailed(Exception exception, string generationId);

    [LoggerMessage(EventId = 8013, Level = LogLevel.Warning, Message = "Generation {GenerationId}: its lease was taken over by another node, which ended it; this node writes nothing more of it")]
    private partial void LogLeaseLost(string generationId);

    [LoggerMessage(EventId = 8012, Level = LogLevel.Debug, Message = "Generation {GenerationId}: {Reason}; its record is brought up to date")]
    private partial void LogAlreadyEnded(string reason, string generationId);
}
