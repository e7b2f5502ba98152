using System.Text;
using Microsoft.Extensions.AI;
using Sluice.Streams;

namespace Sluice.Generations;

/// <summary>
/// What one generation's run has produced so far, across its attempts, and how a provider's update maps to the
/// contract's events: <c>TextContent</c> → <c>token</c>, <c>FunctionCallContent</c> → <c>tool</c>,
/// <c>UsageContent</c> → the usage of <c>done</c>, a text's citations → <c>citation</c>. With a response contract the
/// events are held, not written, until the output passes. It is the pipeline's <see cref="IGenerationExposure"/>.
/// </summary>
internal sealed class GenerationRun(bool holdOutput, GenerationEventWriter? writer = null, TimeProvider? time = null, long admittedTimestamp = 0) : IGenerationExposure
{
    public List<NewEvent>? Held { get; private set; } = holdOutput ? [] : null;

    public StringBuilder? Text { get; private set; } = holdOutput ? new StringBuilder() : null;

    public string? FinishReason { get; set; }

    public int TokenEvents { get; set; }

    public int ToolIndex { get; set; }

    public int CitationIndex { get; set; }

    public long? ReportedInput { get; set; }

    public long? ReportedOutput { get; set; }

    public long? TtftMs { get; private set; }

    /// <summary>The link serving now (the last to start an attempt).</summary>
    public ProviderTarget? Used { get; private set; }

    /// <summary>Once an event is written, or the held output released, no layer may start the generation again.</summary>
    public bool Exposed => Volatile.Read(ref _exposed);

    private bool _exposed;

    public long InputTokens => ReportedInput ?? 0;

    public long OutputTokens => ReportedOutput ?? TokenEvents;

    /// <summary>A new attempt, of <paramref name="target"/> or (null) of the same link again, starts clean.</summary>
    public void StartAttempt(ProviderTarget? target)
    {
        Used = target ?? Used;
        ResetAttempt();
    }

    /// <summary>One update from the provider: its events written (or held), its finish reason kept.</summary>
    public void Add(ChatResponseUpdate update)
    {
        var contents = update.Contents;
        for (var i = 0; i < contents.Count; i++)
        {
            var content = contents[i];
            if (Map(content) is { } e)
            {
                Emit(e);
            }

            if (content is TextContent { Annotations: { Count: > 0 } annotations })
            {
                foreach (var annotation in annotations)
                {
                    if (annotation is CitationAnnotation c)
                    {
                        Emit(GenerationEvents.Citation(CitationIndex++, c.ToolName ?? c.FileId, c.Title, c.Url?.ToString(), c.Snippet));
                    }
                }
            }
        }

        if (update.FinishReason is { } finish)
        {
            FinishReason = MapFinish(finish);
        }
    }

    /// <summary>The held output, now that it may be written (null when nothing was held).</summary>
    public IReadOnlyList<NewEvent>? Release()
    {
        if (Held is { } held)
        {
            MarkExposed();
        }

        return Held;
    }

    private void Emit(NewEvent e)
    {
        if (Held is { } held)
        {
            held.Add(e);
            return;
        }

        MarkExposed();
        writer!.Add(e);
    }

    private void MarkExposed()
    {
        if (!_exposed)
        {
            TtftMs = (long)(time ?? TimeProvider.System).GetElapsedTime(admittedTimestamp).TotalMilliseconds;
            Volatile.Write(ref _exposed, true);
        }
    }

    /// <summary>A new attempt starts clean: only a held (unexposed) output can be discarded.</summary>
    public void ResetAttempt()
    {
        FinishReason = null;
        if (Held is not null)
        {
            Held = [];
            Text = new StringBuilder();
            TokenEvents = 0;
            ToolIndex = 0;
            CitationIndex = 0;
            ReportedInput = null;
            ReportedOutput = null;
        }
    }

    /// <summary>The event an update's content becomes, if any; counts tokens and usage as it goes.</summary>
    public NewEvent? Map(AIContent content)
    {
        switch (content)
        {
            case TextContent { Text.Length: > 0 } text:
                TokenEvents++;
                Text?.Append(text.Text);
                return GenerationEvents.Token(text.Text);
            case FunctionCallContent call:
                return GenerationEvents.Tool(ToolIndex++, call.CallId, call.Name, call.Arguments);
            case UsageContent usage:
                ReportedInput = usage.Details.InputTokenCount ?? ReportedInput;
                ReportedOutput = usage.Details.OutputTokenCount ?? ReportedOutput;
                return null;
            default:
                return null;
        }
    }

    public static string MapFinish(ChatFinishReason reason)
    {
        if (reason == ChatFinishReason.Length)
        {
            return "length";
        }

        if (reason == ChatFinishReason.ToolCalls)
        {
            return "tool_calls";
        }

        return reason == ChatFinishReason.ContentFilter ? "content_filter" : "stop";
    }
}
