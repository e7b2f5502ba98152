using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Sluice.Diagnostics;
using Sluice.Errors;
using Sluice.Fanout;
using Sluice.Streams;

namespace Sluice.Generations;

/// <summary>
/// Runs one generation against its chain and writes what comes back into its stream. Falls back to the next
/// provider only while nothing has been exposed to clients (the extensions' FailoverChatClient rule), so no
/// client ever sees a token twice; after that a failure ends the stream with a retryable <c>error</c>, never
/// with <c>done</c>. A provider that goes silent is cut by the first-token and idle timeouts.
/// </summary>
internal sealed partial class GenerationExecutor(
    GenerationFinisher finisher, IGenerationStore store, Resilience.ProviderResilience resilience, Ops.TraceRecorder traces, TimeProvider time, Microsoft.Extensions.Options.IOptionsMonitor<Configuration.SluiceOptions> options, ILogger<GenerationExecutor> logger)
{
    public async Task<GenerationRecord> RunAsync(GenerationJob job)
    {
        var request = job.Request;
        var record = job.Record with { Status = GenerationStatus.Running, StartedAt = time.GetUtcNow() };
        job.Record = record;
        await store.UpdateAsync(record, CancellationToken.None);

        var writer = finisher.WriterFor(record);
        var run = new GenerationRun(request.Contract is not null);
        var cancel = job.Cancellation.Token;
        ProviderTarget? used = null;
        Exception? failure = null;
        var cancelled = false;

        for (var i = 0; i < job.Route.Chain.Count; i++)
        {
            var target = job.Route.Chain[i];
            if (resilience.KillSwitchOf(target.Provider) is not null)
            {
                // An operator took this provider out: the next link serves, or the run fails fast.
                used ??= target;
                failure = new ProviderException(ErrorCodes.ProviderKilled, $"{target.Provider} is switched off by an operator.", false);
                LogAttemptFailed(job.Id, target.Name, ErrorCodes.ProviderKilled, i < job.Route.Chain.Count - 1);
                continue;
            }

            used = target;
            try
            {
                await resilience.ExecuteAsync(target.Provider, ct =>
                {
                    run.ResetAttempt();
                    return AttemptAsync(job, target, writer, run, ct, time.GetTimestamp());
                }, () => writer.Written == 0, cancel);
                resilience.Report(target.Provider, true, run.AttemptTtftMs);
                failure = null;
                break;
            }
            catch (Exception) when (cancel.IsCancellationRequested)
            {
                if (job.Lost)
                {
                    failure = new ProviderException(ErrorCodes.WorkerLost, "The node stopped before the generation finished.", true);
                }
                else
                {
                    cancelled = true;
                }

                break;
            }
            catch (Exception ex)
            {
                if (ex is not ProviderException { NoAttempt: true })
                {
                    resilience.Report(target.Provider, false, run.AttemptTtftMs); // an open circuit made no attempt
                }

                failure = ex as ProviderException ?? new ProviderException(ErrorCodes.ProviderUnavailable, "The provider failed: " + ex.GetType().Name + ".", true, ex);
                var canFallBack = writer.Written == 0 && i < job.Route.Chain.Count - 1;
                var code = ((ProviderException)failure).Code;
                LogAttemptFailed(job.Id, target.Name, code, canFallBack);
                await traces.RecordAsync(code, record.TraceId, record.Tenant, job.Id,
                    $"{target.Name}: {failure.Message}" + (canFallBack ? " Falling back to the next provider." : ""));
                if (!canFallBack)
                {
                    break;
                }
            }
        }

        IReadOnlyList<NewEvent>? released = null;
        GenerationEnding ending;
        if (cancelled)
        {
            ending = GenerationEnding.Cancelled;
        }
        else if (failure is ProviderException pe)
        {
            ending = GenerationEnding.Failed(pe.Code, pe.Message, pe.Retryable);
        }
        else if (run.FinishReason == "content_filter")
        {
            ending = GenerationEnding.Withheld("content_filter", "The response was withheld by the provider's content filter.", "The provider's content filter stopped the output.");
        }
        else if (request.Contract is { } contract && !SatisfiesContract(contract, run, cancel, ref cancelled, out var reason))
        {
            // Cancelled while its output was being checked: nothing of it was exposed, and nothing will be.
            // Otherwise nothing of the held output is written: only the safe response reaches any client.
            ending = cancelled && job.Lost ? GenerationEnding.WorkerLost("The node stopped before the generation finished.")
                : cancelled ? GenerationEnding.Cancelled
                : GenerationEnding.Withheld(ErrorCodes.ContractViolation, GenerationEvents.ContractViolationText, "The output failed its response contract: " + reason + ".");
            if (!cancelled)
            {
                LogContractViolation(job.Id, reason!);
                await traces.RecordAsync(ErrorCodes.ContractViolation, record.TraceId, record.Tenant, job.Id, ending.ErrorMessage!);
            }
        }
        else
        {
            released = run.Held;
            if (released is not null)
            {
                run.MarkExposed(time.GetElapsedTime(job.AdmittedTimestamp));
            }

            ending = GenerationEnding.Finished(run.FinishReason!);
        }

        var facts = new GenerationFacts(used, run.InputTokens, run.OutputTokens, run.TtftMs, time.GetElapsedTime(job.AdmittedTimestamp));
        record = await finisher.FinishAsync(record, ending, facts, writer, released);
        job.Record = record;
        return record;
    }

    private bool SatisfiesContract(ResponseContract contract, GenerationRun run, CancellationToken cancel, ref bool cancelled, out string? reason)
    {
        try
        {
            return contract.IsSatisfiedBy(run.Text!.ToString(), options.CurrentValue.Limits.ContractValidationTimeout, cancel, out reason);
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            cancelled = true;
            reason = "cancelled";
            return false;
        }
    }

    private async Task AttemptAsync(GenerationJob job, ProviderTarget target, GenerationEventWriter writer, GenerationRun run, CancellationToken cancel, long attemptStarted)
    {
        var request = job.Request;
        var options = new ChatOptions
        {
            ModelId = target.Model,
            MaxOutputTokens = request.MaxTokens,
            Temperature = request.Temperature,
        };
        if (request.Tools.Count > 0)
        {
            options.Tools = [.. request.Tools];
        }

        if (target.IsSimulated)
        {
            var simulate = (request.Simulate ?? new Configuration.SimulateOptions()).Over(target.SimulateDefaults ?? new Configuration.SimulateOptions());
            options.AdditionalProperties = new AdditionalPropertiesDictionary { [Configuration.SimulateOptions.ChatOptionsKey] = simulate };
        }

        // Timeouts and classification are layers of the target's client (Sluice.Providers' pipeline).
        var enumerator = target.Client.GetStreamingResponseAsync(request.Messages, options, cancel).GetAsyncEnumerator(cancel);
        try
        {
            while (true)
            {
                var more = await enumerator.MoveNextAsync();
                if (!more)
                {
                    break;
                }

                var update = enumerator.Current;
                foreach (var content in update.Contents)
                {
                    if (run.Map(content) is { } e)
                    {
                        run.AttemptTtftMs ??= time.GetElapsedTime(attemptStarted).TotalMilliseconds;
                        Emit(job, writer, run, e);
                    }

                    if (content is TextContent { Annotations: { Count: > 0 } annotations })
                    {
                        foreach (var annotation in annotations)
                        {
                            if (annotation is CitationAnnotation c)
                            {
                                Emit(job, writer, run, GenerationEvents.Citation(run.CitationIndex++, c.ToolName ?? c.FileId, c.Title, c.Url?.ToString(), c.Snippet));
                            }
                        }
                    }
                }

                if (update.FinishReason is { } finish)
                {
                    run.FinishReason = GenerationRun.MapFinish(finish);
                }
            }
        }
        finally
        {
            await enumerator.DisposeAsync();
        }

        if (run.FinishReason is null)
        {
            // The stream ended without saying why: truncated upstream. Never reported as a clean stop.
            throw new ProviderException(ErrorCodes.ProviderUnavailable, "The provider's stream ended without a finish reason.", true);
        }
    }

    private void Emit(GenerationJob job, GenerationEventWriter writer, GenerationRun run, NewEvent e)
    {
        if (run.Held is { } held)
        {
            held.Add(e);
            return;
        }

        if (writer.Written == 0)
        {
            run.MarkExposed(time.GetElapsedTime(job.AdmittedTimestamp));
        }

        writer.Add(e);
    }

    [LoggerMessage(EventId = 8001, Level = LogLevel.Warning, Message = "Generation {GenerationId}: provider {Target} failed with {Code}; falling back: {FallingBack}")]
    private partial void LogAttemptFailed(string generationId, string target, string code, bool fallingBack);

    [LoggerMessage(EventId = 8002, Level = LogLevel.Warning, Message = "Generation {GenerationId}: output violated its response contract ({Reason}); only safe_response was written")]
    private partial void LogContractViolation(string generationId, string reason);
}
