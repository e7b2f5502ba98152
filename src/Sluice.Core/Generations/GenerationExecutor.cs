using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Sluice.Configuration;
using Sluice.Errors;
using Sluice.Ops;

namespace Sluice.Generations;

/// <summary>
/// Runs one generation through its route's pipeline (failover over each link's kill-switch, resilience and
/// timeouts: see <c>Sluice.Providers</c>) and maps what comes back to the contract's events. Tells the pipeline
/// through <see cref="IGenerationExposure"/> when something has reached a client, after which no layer may start
/// again; how the generation ends is the <see cref="GenerationFinisher"/>'s.
/// </summary>
internal sealed partial class GenerationExecutor(
    GenerationFinisher finisher, TraceRecorder traces, TimeProvider time, IOptionsMonitor<SluiceOptions> options, ILogger<GenerationExecutor> logger)
{
    private const string LostMessage = "The node stopped before the generation finished.";

    public async Task<GenerationRecord> RunAsync(GenerationJob job)
    {
        var span = GenerationSpan.Start(job, time);
        try
        {
            return await RunAsync(job, span);
        }
        catch (Exception ex)
        {
            // The runner ends the generation as internal; the span ends with it instead of never being exported.
            GenerationSpan.Failed(span, ex);
            throw;
        }
    }

    private async Task<GenerationRecord> RunAsync(GenerationJob job, System.Diagnostics.Activity? span)
    {
        var request = job.Request;
        var record = job.Record with { Status = GenerationStatus.Running, StartedAt = time.GetUtcNow() };
        job.Record = record;
        // "running" is written beside the provider call, not before it: a durable write on the way to the first token
        // (about a millisecond on SQLite, issue 18) for a status this node already serves from memory. It lands before
        // the final record, which is written after it.
        var running = RecordRunningAsync(record);

        var writer = finisher.WriterFor(record, job.Lease);
        var run = new GenerationRun(request.Contract is not null, writer, time, job.AdmittedTimestamp);
        var cancel = job.Cancellation.Token;
        GenerationEnding? ending = null;
        run.StartAttempt(job.Route.Chain[0]);
        try
        {
            await foreach (var update in job.Route.Client.GetStreamingResponseAsync(request.Messages, ChatOptionsFor(request, run), cancel))
            {
                if (update.Contents is [ProviderAttemptContent attempt])
                {
                    await AttemptStartedAsync(job, run, attempt);
                }
                else
                {
                    run.Add(update);
                }
            }
        }
        catch (Exception) when (cancel.IsCancellationRequested)
        {
            ending = job.Lost ? GenerationEnding.WorkerLost(LostMessage) : GenerationEnding.Cancelled;
        }
        catch (InvalidOperationException) when (writer.LeaseLost)
        {
            // Another node took the lease over and ended the generation; not the provider's failure either.
            ending = GenerationEnding.WorkerLost(LostMessage);
        }
        catch (InvalidOperationException) when (writer.OutageOutlasted)
        {
            // Not the provider's failure: no attempt is traced.
            ending = GenerationFinisher.OutageOutlasted;
        }
        catch (Exception ex)
        {
            var failure = ex as ProviderException ?? new ProviderException(ErrorCodes.ProviderUnavailable, "The provider failed: " + ex.GetType().Name + ".", true, ex);
            await AttemptFailedAsync(job, run.Used, failure, fallingBack: false);
            ending = GenerationEnding.Failed(failure.Code, failure.Message, failure.Retryable);
        }

        ending ??= await EndingOfOutputAsync(job, run, cancel);
        await running;
        var released = ending.Status == GenerationStatus.Succeeded ? run.Release() : null;
        var facts = new GenerationFacts(run.Used, run.InputTokens, run.OutputTokens, run.TtftMs, time.GetElapsedTime(job.AdmittedTimestamp));
        record = await finisher.FinishAsync(record, ending, facts, writer, released);
        job.Record = record;
        GenerationSpan.End(span, record, ending, facts);
        return record;
    }

    private async Task RecordRunningAsync(GenerationRecord record)
    {
        try
        {
            await finisher.UpdateAsync(record);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // Its retries spent: the final record, written next, says how the generation went; nothing is lost.
            LogRunningNotRecorded(ex, record.Id);
        }
    }

    private static ChatOptions ChatOptionsFor(GenerationRequest request, GenerationRun run)
    {
        var chat = new ChatOptions
        {
            MaxOutputTokens = request.MaxTokens,
            Temperature = request.Temperature,
            AdditionalProperties = new AdditionalPropertiesDictionary { [ProviderPipeline.ExposureKey] = run },
        };
        if (request.Tools.Count > 0)
        {
            chat.Tools = [.. request.Tools];
        }

        if (request.Simulate is { } simulate)
        {
            chat.AdditionalProperties[SimulateOptions.ChatOptionsKey] = simulate;
        }

        return chat;
    }

    /// <summary>A finished stream's output, judged: the provider's content filter or the response contract may withhold it.</summary>
    private async Task<GenerationEnding> EndingOfOutputAsync(GenerationJob job, GenerationRun run, CancellationToken cancel)
    {
        if (run.FinishReason == "content_filter")
        {
            return GenerationEnding.Withheld("content_filter", "The response was withheld by the provider's content filter.", "The provider's content filter stopped the output.");
        }

        if (run.FinishReason is null)
        {
            return GenerationEnding.Failed(ErrorCodes.ProviderUnavailable, "The provider's stream ended without a finish reason.", true);
        }

        if (job.Request.Contract is not { } contract)
        {
            return GenerationEnding.Finished(run.FinishReason!);
        }

        string? reason;
        try
        {
            if (contract.IsSatisfiedBy(run.Text!.ToString(), options.CurrentValue.Limits.ContractValidationTimeout, cancel, out reason))
            {
                return GenerationEnding.Finished(run.FinishReason!);
            }
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            // Cancelled while its output was being checked: nothing of it was exposed, and nothing will be.
            return job.Lost ? GenerationEnding.WorkerLost(LostMessage) : GenerationEnding.Cancelled;
        }

        // Nothing of the held output is written: only the safe response reaches any client.
        var ending = GenerationEnding.Withheld(ErrorCodes.ContractViolation, GenerationEvents.ContractViolationText, "The output failed its response contract: " + reason + ".");
        LogContractViolation(job.Id, reason!);
        await traces.RecordAsync(ErrorCodes.ContractViolation, job.Record.TraceId, job.Record.Tenant, job.Id, ending.ErrorMessage!);
        return ending;
    }

    private async Task AttemptStartedAsync(GenerationJob job, GenerationRun run, ProviderAttemptContent attempt)
    {
        // A retry of the same link is Polly's to report (resilience telemetry); a move down the chain is traced.
        if (attempt is { PreviousFailure: { } failure, Target: not null })
        {
            await AttemptFailedAsync(job, run.Used, failure, fallingBack: true);
        }

        run.StartAttempt(attempt.Target);
    }

    private async Task AttemptFailedAsync(GenerationJob job, ProviderTarget? target, ProviderException failure, bool fallingBack)
    {
        var name = target?.Name ?? job.Route.Name;
        LogAttemptFailed(job.Id, name, failure.Code, fallingBack);
        await traces.RecordAsync(failure.Code, job.Record.TraceId, job.Record.Tenant, job.Id,
            $"{name}: {failure.Message}" + (fallingBack ? " Falling back to the next provider." : ""));
    }

    [LoggerMessage(EventId = 8001, Level = LogLevel.Warning, Message = "Generation {GenerationId}: provider {Target} failed with {Code}; falling back: {FallingBack}")]
    private partial void LogAttemptFailed(string generationId, string target, string code, bool fallingBack);

    [LoggerMessage(EventId = 8004, Level = LogLevel.Warning, Message = "Generation {GenerationId}: its running status could not be stored; the final record follows")]
    private partial void LogRunningNotRecorded(Exception exception, string generationId);

    [LoggerMessage(EventId = 8002, Level = LogLevel.Warning, Message = "Generation {GenerationId}: output violated its response contract ({Reason}); only safe_response was written")]
    private partial void LogContractViolation(string generationId, string reason);
}
