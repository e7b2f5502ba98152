using System.Text;
using Microsoft.Extensions.AI;
using Sluice.Streams;

namespace Sluice.Generations;

/// <summary>
/// What one generation's run has produced so far, across its attempts, and how a provider's update maps to the
/// contract's events: <c>TextContent</c> → <c>token</c>, <c>FunctionCallContent</c> → <c>tool</c>,
/// <c>UsageContent</c> → the usage of <c>done</c>. With a response contract the events are held, not written.
/// </summary>
internal sealed class GenerationRun(bool holdOutput)
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

    /// <summary>This attempt's time from its request to its first output (provider health).</summary>
    public double? AttemptTtftMs { get; set; }

    public long InputTokens => ReportedInput ?? 0;

    public long OutputTokens => ReportedOutput ?? TokenEvents;

    public void MarkExposed(TimeSpan elapsed) => TtftMs ??= (long)elapsed.TotalMilliseconds;

    /// <summary>A new attempt starts clean: only a held (unexposed) output can be discarded.</summary>
    public void ResetAttempt()
    {
        FinishReason = null;
        AttemptTtftMs = null;
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
